//! Saga data to and from the bytes the log stores.

use bytes::Bytes;

use super::Inner;
use crate::error::{Error, Result};
use crate::id::SagaId;
use crate::step::SagaData;

impl<D: SagaData> Inner<D> {
    /// Encodes saga data into an exactly-sized buffer (a log may keep it for the saga's lifetime, so
    /// serde_json's spare capacity would be retained per record).
    pub(crate) fn encode(&self, id: SagaId, data: &D) -> Result<Bytes> {
        thread_local! {
            static BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        BUF.with(|buf| {
            let mut buf = buf.borrow_mut();
            buf.clear();
            serde_json::to_writer(&mut *buf, data).map_err(|source| Error::Codec {
                saga_id: id,
                source,
            })?;
            let bytes = Bytes::copy_from_slice(&buf);
            if buf.capacity() > 64 * 1024 {
                *buf = Vec::new();
            }
            Ok(bytes)
        })
    }

    /// Decodes saga data the log returned.
    pub(crate) fn decode(&self, id: SagaId, bytes: &[u8]) -> Result<D> {
        serde_json::from_slice(bytes).map_err(|source| Error::Codec {
            saga_id: id,
            source,
        })
    }
}
