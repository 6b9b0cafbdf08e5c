//! Batched polls through librdkafka's C API: a worker's queue
//! ([`WorkerQueue`]) and the batch of messages one poll returns
//! ([`MessageBatch`]), lent to the handler as borrowed slices.

use std::ffi::CStr;
use std::os::raw::c_void;
use std::ptr;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::bindings as rdsys;

/// One message of a polled batch, borrowed from librdkafka's buffers.
#[derive(Debug, Clone, Copy)]
pub struct RawMessage<'a> {
    /// Topic name.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Record key, if any.
    pub key: Option<&'a [u8]>,
    /// Record value (empty for a null value).
    pub payload: &'a [u8],
    /// Record timestamp (create or log-append time), ms since the epoch.
    pub timestamp_ms: Option<i64>,
}

/// A reusable array of messages taken from a worker queue.
pub struct MessageBatch {
    msgs: Vec<*mut rdsys::rd_kafka_message_t>,
    len: usize,
    topic_cache: Vec<(*const c_void, Arc<str>)>,
}

// The message pointers are owned by this batch until destroyed; librdkafka
// messages may be destroyed from any thread.
unsafe impl Send for MessageBatch {}

impl MessageBatch {
    /// An empty batch able to hold `capacity` messages.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            msgs: vec![ptr::null_mut(); capacity.max(1)],
            len: 0,
            topic_cache: Vec::new(),
        }
    }

    /// Number of messages (including error events) held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no message is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn release(&mut self) {
        for m in &mut self.msgs[..self.len] {
            // SAFETY: each pointer came from rd_kafka_consume_batch_queue and is destroyed once.
            unsafe { rdsys::rd_kafka_message_destroy(*m) };
            *m = ptr::null_mut();
        }
        self.len = 0;
    }

    fn topic_name(&mut self, rkt: *mut rdsys::rd_kafka_topic_t) -> Arc<str> {
        let key = rkt as *const c_void;
        if let Some((_, name)) = self.topic_cache.iter().find(|(k, _)| *k == key) {
            return name.clone();
        }
        // SAFETY: rkt is a live topic handle of a live message; the name is NUL-terminated.
        let name: Arc<str> = unsafe { CStr::from_ptr(rdsys::rd_kafka_topic_name(rkt)) }
            .to_string_lossy()
            .into();
        self.topic_cache.push((key, name.clone()));
        name
    }

    /// Visits every message: `Ok` for records, `Err(code, text)` for consumer
    /// errors delivered in-band (partition EOF is skipped).
    pub fn for_each(
        &mut self,
        mut f: impl FnMut(std::result::Result<RawMessage<'_>, (i32, String)>, &Arc<str>),
    ) {
        // One topic-name lookup per run of messages from the same topic handle,
        // and no reference-count traffic per message.
        let mut current: (*mut rdsys::rd_kafka_topic_t, Arc<str>) =
            (ptr::null_mut(), Arc::from(""));
        for i in 0..self.len {
            let m = self.msgs[i];
            // SAFETY: m is a valid message until release().
            let msg = unsafe { &*m };
            if msg.rkt != current.0 && !msg.rkt.is_null() {
                current = (msg.rkt, self.topic_name(msg.rkt));
            }
            let topic = &current.1;
            if msg.err != rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
                if msg.err == rdsys::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR__PARTITION_EOF {
                    continue;
                }
                // SAFETY: librdkafka returns a static or message-owned C string.
                let text = unsafe {
                    let p = rdsys::rd_kafka_message_errstr(m);
                    if p.is_null() {
                        String::new()
                    } else {
                        CStr::from_ptr(p).to_string_lossy().into_owned()
                    }
                };
                f(Err((msg.err as i32, text)), topic);
                continue;
            }
            // SAFETY: payload/key point at len bytes owned by the message.
            let payload = if msg.payload.is_null() {
                &[][..]
            } else {
                unsafe { std::slice::from_raw_parts(msg.payload as *const u8, msg.len) }
            };
            let key = if msg.key.is_null() {
                None
            } else {
                Some(unsafe { std::slice::from_raw_parts(msg.key as *const u8, msg.key_len) })
            };
            let mut ts_type = rdsys::rd_kafka_timestamp_type_t::RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
            // SAFETY: valid message, out-pointer to a local.
            let ts = unsafe { rdsys::rd_kafka_message_timestamp(m, &mut ts_type) };
            let raw = RawMessage {
                topic,
                partition: msg.partition,
                offset: msg.offset,
                key,
                payload,
                timestamp_ms: (ts >= 0).then_some(ts),
            };
            f(Ok(raw), topic);
        }
    }
}

impl Drop for MessageBatch {
    fn drop(&mut self) {
        self.release();
    }
}

/// A librdkafka queue owned by one worker; assigned partitions forward here.
pub struct WorkerQueue {
    pub(super) ptr: *mut rdsys::rd_kafka_queue_t,
}

// librdkafka queues are thread-safe.
unsafe impl Send for WorkerQueue {}
unsafe impl Sync for WorkerQueue {}

impl WorkerQueue {
    pub(super) fn new(rk: *mut rdsys::rd_kafka_t) -> Self {
        // SAFETY: rk is a live client handle.
        Self {
            ptr: unsafe { rdsys::rd_kafka_queue_new(rk) },
        }
    }

    /// Waits up to `timeout` for messages and fills `batch` (releasing what it held).
    pub fn poll_batch(&self, timeout: Duration, batch: &mut MessageBatch) -> usize {
        batch.release();
        let cap = batch.msgs.len();
        // SAFETY: queue is live; the array has `cap` slots.
        let n = unsafe {
            rdsys::rd_kafka_consume_batch_queue(
                self.ptr,
                timeout.as_millis() as i32,
                batch.msgs.as_mut_ptr(),
                cap,
            )
        };
        batch.len = if n < 0 { 0 } else { n as usize };
        batch.len
    }
}

impl Drop for WorkerQueue {
    fn drop(&mut self) {
        // SAFETY: created by rd_kafka_queue_new, destroyed once.
        unsafe { rdsys::rd_kafka_queue_destroy(self.ptr) };
    }
}
