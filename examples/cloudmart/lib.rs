//! CloudMart, the example system of the saga workspace: an online bookstore whose order process runs
//! as a saga, orchestrated by the executor or choreographed through events, over four services that
//! each own their state. `main.rs` is the command line; the integration tests (`tests/cloudmart_*.rs`)
//! include this module tree with `#[path = "../examples/cloudmart/lib.rs"] mod cloudmart;`.

pub mod choreography;
pub mod cli;
pub mod cluster;
pub mod cluster_run;
pub mod cluster_world;
pub mod crash;
pub mod crash_switch;
pub mod db;
pub mod engine;
pub mod error;
pub mod events;
pub mod history;
pub mod http;
pub mod invariants;
pub mod logs;
pub mod model;
pub mod orchestration;
pub mod order_saga;
pub mod report;
pub mod roles;
pub mod scenarios;
pub mod seed;
pub mod services;
pub mod transports;
pub mod world;
