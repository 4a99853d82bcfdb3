//! The seed's HTTP API: the four services' endpoints, the choreographed `POST /orders`, the
//! orchestrator's `/saga/...` endpoints and the `/admin/...` controls of the scenarios. `--serve ADDR`
//! serves all of them over one in-process world; in a cluster each role serves its own part and the
//! gateway ([`gateway`]) forwards to it.

pub mod admin;
pub mod client;
pub mod gateway;
mod requests;
mod sagas;
mod services;

pub(crate) use requests::{key, OrderRef, PlaceOrder};

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use parking_lot::Mutex;
use saga::SagaId;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::cloudmart::choreography::Choreography;
use crate::cloudmart::error::AppError;
use crate::cloudmart::model::ServiceError;
use crate::cloudmart::orchestration::Orchestrator;
use crate::cloudmart::scenarios::Env;
use crate::cloudmart::services::{Service, Services};

/// The server's state: the services of this process and, where it runs them, the orchestrator and
/// the choreography's publishing side.
pub struct AppState {
    /// The services (in a service role, only that service's part is used).
    pub services: Arc<Services>,
    own: Vec<Service>,
    orchestrator: Option<Orchestrator>,
    choreography: Option<Choreography>,
    sagas: Mutex<HashMap<String, SagaId>>,
    finished: watch::Sender<HashSet<String>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState").finish_non_exhaustive()
    }
}

impl AppState {
    /// The state of one process: the services `own` of `services`, plus the orchestrator and the
    /// choreography it runs.
    #[must_use]
    pub fn new(
        services: Arc<Services>,
        own: &[Service],
        orchestrator: Option<Orchestrator>,
        choreography: Option<Choreography>,
    ) -> Arc<Self> {
        Arc::new(Self {
            services,
            own: own.to_vec(),
            orchestrator,
            choreography,
            sagas: Mutex::new(HashMap::new()),
            finished: watch::Sender::new(HashSet::new()),
        })
    }

    /// Waits until the orchestrated saga of `order_id` (started over HTTP) has ended.
    #[allow(dead_code)] // used by tests/cloudmart_http.rs
    pub async fn wait_saga(&self, order_id: &str) {
        let mut rx = self.finished.subscribe();
        let _ = rx.wait_for(|done| done.contains(order_id)).await;
    }

    /// Resumes the sagas a previous orchestrator process left unfinished; returns how many.
    ///
    /// # Errors
    /// [`AppError::Usage`] if no orchestrator runs here; the claim failed.
    pub async fn recover(&self) -> Result<usize, AppError> {
        let orchestrator = self
            .orchestrator
            .as_ref()
            .ok_or_else(|| AppError::Usage("no orchestrator in this process".into()))?;
        Ok(orchestrator.recover().await?.resumed())
    }

    fn orchestrator(&self) -> Result<&Orchestrator, ApiError> {
        self.orchestrator
            .as_ref()
            .ok_or_else(|| not_here("the orchestrator"))
    }

    fn choreography(&self) -> Result<&Choreography, ApiError> {
        self.choreography
            .as_ref()
            .ok_or_else(|| not_here("the order service"))
    }
}

/// The saga (or event chain) id a request names, or a new one.
fn saga_id(given: Option<&str>) -> Result<SagaId, ApiError> {
    given.map_or_else(
        || Ok(SagaId::new()),
        |s| {
            s.parse().map_err(|_| {
                ApiError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("bad sagaId {s:?}"),
                )
            })
        },
    )
}

fn not_here(what: &str) -> ApiError {
    ApiError(
        StatusCode::NOT_FOUND,
        format!("{what} does not run in this process"),
    )
}

/// The state every handler gets.
pub type Shared = Arc<AppState>;

/// An API error as JSON.
pub(crate) struct ApiError(pub(crate) StatusCode, pub(crate) String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Refused(m) => Self(StatusCode::CONFLICT, m),
            ServiceError::Unavailable(m) => Self(StatusCode::SERVICE_UNAVAILABLE, m),
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        Self(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

pub(crate) type ApiResult = Result<(StatusCode, Json<Value>), ApiError>;

pub(crate) fn ok(value: Value) -> ApiResult {
    Ok((StatusCode::OK, Json(value)))
}

/// Builds the world of `--serve` (every service, both styles, in-process transports) and its router.
///
/// # Errors
/// Transport subscriptions failed.
pub async fn app(env: &Env) -> Result<(Router, Shared), AppError> {
    let owner = format!(
        "cm_http_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let services = Services::open(&env.db, &owner, &env.config).await?;
    let orchestrator = Orchestrator::start(
        &services,
        Arc::new(saga::InProcTransport::new()),
        Arc::clone(&env.log),
        &owner,
    )
    .await?;
    let choreography =
        Choreography::start(&services, Arc::new(saga::InProcTransport::new())).await?;
    let state = AppState::new(
        services,
        &Service::ALL,
        Some(orchestrator),
        Some(choreography),
    );
    let router = Router::new()
        .merge(service_routes(&Service::ALL))
        .merge(saga_routes())
        .merge(admin::routes())
        .with_state(Arc::clone(&state));
    Ok((router, state))
}

/// The routes of the services `which`.
pub fn service_routes(which: &[Service]) -> Router<Shared> {
    let mut router = Router::new();
    for service in which {
        router = match service {
            Service::Order => router
                .route("/orders", post(services::place_order))
                .route("/orders/{id}", get(services::get_order))
                .route("/orders/{id}/cancel", put(services::cancel_order)),
            Service::Inventory => router
                .route("/inventory/reserve", post(services::reserve))
                .route("/inventory/release", post(services::release))
                .route("/inventory/{book_id}", get(services::get_stock)),
            Service::Payment => router
                .route("/payments/process", post(services::pay))
                .route("/payments/cancel", post(services::cancel_payment))
                .route("/payments/refund", post(services::refund)),
            Service::Shipping => router
                .route("/shipping/arrange", post(services::arrange))
                .route("/shipping/cancel", post(services::cancel_shipping))
                .route("/shipping/{order_id}", get(services::get_shipment)),
        };
    }
    router
}

/// The orchestrator's routes.
pub fn saga_routes() -> Router<Shared> {
    Router::new()
        .route("/saga/start", post(sagas::saga_start))
        .route("/saga/{order_id}/status", get(sagas::saga_status))
        .route("/saga/{order_id}/cancel", post(sagas::saga_cancel))
}

/// Serves `router` on `listener` until the returned task is dropped or aborted.
pub fn spawn_server(
    listener: tokio::net::TcpListener,
    router: Router,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            eprintln!("http server stopped: {e}");
        }
    })
}

/// Binds `addr` and serves until the task is dropped; returns the bound address.
///
/// # Errors
/// Binding failed.
pub async fn start(
    env: &Env,
    addr: &str,
) -> Result<(SocketAddr, Shared, tokio::task::JoinHandle<()>), AppError> {
    let (router, state) = app(env).await?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    Ok((local, state, spawn_server(listener, router)))
}

/// `--serve ADDR`: serves until Ctrl-C.
///
/// # Errors
/// Binding failed.
pub async fn serve(addr: &str, env: Env) -> Result<(), AppError> {
    let (local, _state, task) = start(&env, addr).await?;
    println!("CloudMart HTTP API on http://{local} (Ctrl-C to stop)");
    tokio::select! {
        _ = task => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
