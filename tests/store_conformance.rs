//! The shared `IdempotencyStore` conformance suite against the in-memory store, one test per check. The
//! SQL inbox runs the same suite in `saga-sqlx/tests/inbox_conformance.rs`.

use std::sync::Arc;

use saga::participant::{IdempotencyStore, InMemoryIdempotencyStore};

mod in_memory {
    use super::*;

    saga::store_conformance_tests!(|| async {
        Some(Arc::new(InMemoryIdempotencyStore::new()) as Arc<dyn IdempotencyStore>)
    });
}
