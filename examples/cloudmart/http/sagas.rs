//! The orchestrator's endpoints: `POST /saga/start`, `GET /saga/{id}/status`, `POST /saga/{id}/cancel`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use saga::{Executor, SagaId, SagaStatus};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{ok, saga_id, ApiError, ApiResult, AppState, PlaceOrder, Shared};
use crate::cloudmart::error::AppError;
use crate::cloudmart::history;
use crate::cloudmart::model::OrderSaga;

pub(super) async fn saga_start(State(s): State<Shared>, Json(body): Json<PlaceOrder>) -> ApiResult {
    let body_saga = body.saga_id.clone();
    let request = body.into_request()?;
    let order_id = request.order_id.clone();
    let id = saga_id(body_saga.as_deref())?;
    {
        let mut sagas = s.sagas.lock();
        if sagas.contains_key(&order_id) {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("a saga for {order_id} exists"),
            ));
        }
        sagas.insert(order_id.clone(), id);
    }
    let data = OrderSaga {
        request,
        payment_id: None,
        tracking_number: None,
    };
    let handle = match s.orchestrator()?.executor().start_with_id(id, data).await {
        Ok(h) => h,
        Err(e) => {
            s.sagas.lock().remove(&order_id);
            return Err(AppError::from(e).into());
        }
    };
    let state = Arc::clone(&s);
    let done = order_id.clone();
    tokio::spawn(async move {
        let _ = handle.outcome().await;
        state.finished.send_modify(|f| {
            f.insert(done);
        });
    });
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "orderId": order_id, "sagaId": id.to_string(), "style": "orchestration" })),
    ))
}

/// `?sagaId=…` names the saga (a restarted orchestrator does not know which saga an order started);
/// `?wait=true` answers once it has ended.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct StatusQuery {
    saga_id: Option<String>,
    #[serde(default)]
    wait: bool,
}

fn saga_of(s: &AppState, order_id: &str, given: Option<&str>) -> Result<SagaId, ApiError> {
    if given.is_some() {
        return saga_id(given);
    }
    s.sagas.lock().get(order_id).copied().ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("no saga for order {order_id}"),
        )
    })
}

pub(super) async fn saga_status(
    State(s): State<Shared>,
    Path(order_id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> ApiResult {
    let id = saga_of(&s, &order_id, q.saga_id.as_deref())?;
    let executor = s.orchestrator()?.executor();
    let status = if q.wait {
        wait_end(executor, id).await?
    } else {
        executor.status(id).await.map_err(AppError::from)?
    };
    let report = history::from_status(&order_id, &status);
    let history: Vec<Value> = status
        .history
        .iter()
        .map(|h| {
            json!({ "event": h.event.as_str(), "step": h.step_name, "attempt": h.attempt,
                    "detail": h.detail, "atMs": h.at_ms })
        })
        .collect();
    ok(json!({
        "orderId": order_id,
        "sagaId": id.to_string(),
        "state": report.outcome,
        "sagaState": status.state.to_string(),
        "currentStep": status.current_step.as_ref().map(|c| json!({"step": c.name, "direction": c.direction.to_string()})),
        "states": report.states,
        "compensations": report.compensations,
        "history": history,
        "report": report,
    }))
}

pub(super) async fn saga_cancel(
    State(s): State<Shared>,
    Path(order_id): Path<String>,
) -> ApiResult {
    let id = saga_of(&s, &order_id, None)?;
    match s.orchestrator()?.executor().cancel(id).await {
        Ok(()) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({ "orderId": order_id, "cancel": "requested" })),
        )),
        Err(e @ saga::Error::CancelRefused { .. }) => {
            Err(ApiError(StatusCode::CONFLICT, e.to_string()))
        }
        Err(e) => Err(AppError::from(e).into()),
    }
}

/// How long `?wait=true` waits for a saga's end.
const WAIT_LIMIT: Duration = Duration::from_secs(120);

/// The saga's status once it is terminal. Polls the log: the saga may be driven by this process, by
/// its recovery after a restart, or not yet be known (its start is in flight).
async fn wait_end(executor: &Executor<OrderSaga>, id: SagaId) -> Result<SagaStatus, ApiError> {
    let deadline = tokio::time::Instant::now() + WAIT_LIMIT;
    loop {
        match executor.status(id).await {
            Ok(status) if status.state.is_terminal() => return Ok(status),
            Ok(_) | Err(saga::Error::UnknownSaga { .. }) => {}
            Err(e) => return Err(AppError::from(e).into()),
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError(
                StatusCode::GATEWAY_TIMEOUT,
                format!("saga {id} did not end within {WAIT_LIMIT:?}"),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
