//! `--role gateway`: the seed's HTTP API in front of the service processes. Each request is forwarded
//! to the process that owns its path (`/orders` → order, `/inventory` → inventory, `/payments` →
//! payment, `/shipping` → shipping, `/saga` → orchestrator); `/admin/<role>/…` reaches a role's
//! `/admin/…`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;

use super::client;

/// Where each role listens, by role name.
pub type Peers = BTreeMap<String, SocketAddr>;

/// The gateway's router.
pub fn router(peers: Peers) -> Router {
    Router::new().fallback(forward).with_state(Arc::new(peers))
}

/// The role and path a request goes to.
fn route(path: &str) -> Option<(&str, String)> {
    let rest = path.strip_prefix('/')?;
    let first = rest.split('/').next().unwrap_or_default();
    let role = match first {
        "orders" => "order",
        "inventory" => "inventory",
        "payments" => "payment",
        "shipping" => "shipping",
        "saga" => "orchestrator",
        "admin" => {
            let mut parts = rest.splitn(3, '/');
            let (_, role, tail) = (parts.next(), parts.next()?, parts.next().unwrap_or(""));
            return Some((role, format!("/admin/{tail}")));
        }
        _ => return None,
    };
    Some((role, path.to_owned()))
}

async fn forward(
    State(peers): State<Arc<Peers>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let Some((role, path)) = route(uri.path()) else {
        return (StatusCode::NOT_FOUND, "no such endpoint").into_response();
    };
    let Some(addr) = peers.get(role) else {
        return (StatusCode::NOT_FOUND, format!("no role {role}")).into_response();
    };
    let path = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    match client::send(*addr, method.as_str(), &path, &body).await {
        Ok(r) => (
            StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_GATEWAY),
            [("content-type", "application/json")],
            r.body,
        )
            .into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{role}: {e}")).into_response(),
    }
}
