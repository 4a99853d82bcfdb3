//! A [`World`] whose services are the processes of a [`Cluster`](crate::cloudmart::cluster::Cluster),
//! reached only through the gateway's HTTP API.

use std::net::SocketAddr;
use std::time::Duration;

use async_trait::async_trait;
use saga::SagaId;
use serde_json::{json, Map, Value};

use crate::cloudmart::error::AppError;
use crate::cloudmart::history::OrderReport;
use crate::cloudmart::http::client;
use crate::cloudmart::model::{OrderRequest, Style};
use crate::cloudmart::services::{CarrierMode, Snapshot};
use crate::cloudmart::world::{Metrics, World};

/// The gateway of a cluster, running one style.
#[derive(Debug, Clone, Copy)]
pub struct ClusterWorld {
    /// The gateway.
    pub gateway: SocketAddr,
    /// Which endpoints orders are placed through.
    pub style: Style,
}

/// How long a request is retried while a role restarts.
const RESTART_GRACE: Duration = Duration::from_secs(60);

fn unexpected(what: &str, code: u16, body: &Value) -> AppError {
    AppError::Http(std::io::Error::other(format!(
        "{what}: HTTP {code}: {body}"
    )))
}

impl ClusterWorld {
    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, AppError> {
        let (code, answer) = client::json(self.gateway, method, path, body).await?;
        if (200..300).contains(&code) {
            Ok(answer)
        } else {
            Err(unexpected(&format!("{method} {path}"), code, &answer))
        }
    }

    /// `GET path`, retried while the process behind the gateway is down (a role being restarted).
    async fn wait_for(&self, path: &str) -> Result<Value, AppError> {
        let deadline = tokio::time::Instant::now() + RESTART_GRACE;
        loop {
            match client::json(self.gateway, "GET", path, None).await {
                Ok((code, answer)) if (200..300).contains(&code) => return Ok(answer),
                Ok((502 | 503, _)) | Err(_) if tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok((code, answer)) => {
                    return Err(unexpected(&format!("GET {path}"), code, &answer))
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn report(answer: &Value) -> Result<OrderReport, AppError> {
        serde_json::from_value(answer["report"].clone())
            .map_err(|e| unexpected(&format!("a report ({e})"), 200, answer))
    }
}

#[async_trait]
impl World for ClusterWorld {
    async fn place(&self, id: SagaId, request: OrderRequest) -> Result<OrderReport, AppError> {
        let items: Vec<Value> = request
            .lines
            .iter()
            .map(|l| json!({ "bookId": l.book_id, "quantity": l.quantity }))
            .collect();
        let body = json!({ "orderId": request.order_id, "customerId": request.customer_id,
                           "items": items, "sagaId": id.to_string() });
        let order = &request.order_id;
        match self.style {
            Style::Orchestration => {
                self.call("POST", "/saga/start", Some(&body)).await?;
                let path = format!("/saga/{order}/status?sagaId={id}&wait=true");
                Self::report(&self.wait_for(&path).await?)
            }
            Style::Choreography => {
                let (code, answer) =
                    client::json(self.gateway, "POST", "/orders", Some(&body)).await?;
                if code == 409 {
                    // The Order service refused to create it: the chain never started.
                    let cause = answer["error"].as_str().map(str::to_owned);
                    return Ok(crate::cloudmart::history::refused(order, id, cause));
                }
                if !(200..300).contains(&code) {
                    return Err(unexpected("POST /orders", code, &answer));
                }
                Self::report(&self.wait_for(&format!("/orders/{order}?wait=true")).await?)
            }
        }
    }

    async fn set_carrier(&self, mode: CarrierMode) -> Result<(), AppError> {
        let mode = match mode {
            CarrierMode::Up => "up",
            CarrierMode::Down => "down",
            CarrierMode::Rejects => "rejects",
        };
        let body = json!({ "mode": mode });
        self.call("POST", "/admin/shipping/carrier", Some(&body))
            .await
            .map(drop)
    }

    async fn set_gateway_delay(&self, delay: Duration) -> Result<(), AppError> {
        let body = json!({ "delayMs": u64::try_from(delay.as_millis()).unwrap_or(u64::MAX) });
        self.call("POST", "/admin/payment/gateway", Some(&body))
            .await
            .map(drop)
    }

    async fn metrics(&self) -> Result<Metrics, AppError> {
        let shipping = self.call("GET", "/admin/shipping/metrics", None).await?;
        let payment = self.call("GET", "/admin/payment/metrics", None).await?;
        let decode = |v: Value| {
            serde_json::from_value::<Metrics>(v.clone()).map_err(|_| unexpected("metrics", 200, &v))
        };
        let (shipping, payment) = (decode(shipping)?, decode(payment)?);
        Ok(Metrics {
            gateway_calls: payment.gateway_calls,
            gateway_peak: payment.gateway_peak,
            bulkhead_limit: payment.bulkhead_limit,
            ..shipping
        })
    }

    async fn snapshot(&self) -> Result<Snapshot, AppError> {
        let mut all = Map::new();
        for role in ["order", "inventory", "payment", "shipping"] {
            if let Value::Object(part) = self
                .call("GET", &format!("/admin/{role}/state"), None)
                .await?
            {
                all.extend(part);
            }
        }
        let all = Value::Object(all);
        serde_json::from_value(all.clone()).map_err(|_| unexpected("state", 200, &all))
    }

    async fn shutdown(self: Box<Self>) {}
}
