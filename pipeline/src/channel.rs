//! A bounded channel whose capacity is counted in rows, not messages, so
//! backpressure is explicit and independent of batch size: a sender blocks
//! while the queued rows plus its own would exceed the capacity (a single
//! batch larger than the capacity still passes when the queue is empty).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Something with a row count.
pub trait Rows {
    /// Number of rows this item carries.
    fn rows(&self) -> usize;
}

struct State<T> {
    queue: VecDeque<T>,
    queued_rows: usize,
    senders: usize,
    receiver_alive: bool,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    not_full: Condvar,
    not_empty: Condvar,
    capacity_rows: usize,
}

/// Sending half; clone it for each producer thread.
pub struct RowSender<T> {
    shared: Arc<Shared<T>>,
}

/// Receiving half.
pub struct RowReceiver<T> {
    shared: Arc<Shared<T>>,
}

/// Creates a channel holding at most `capacity_rows` rows.
pub fn row_channel<T: Rows>(capacity_rows: usize) -> (RowSender<T>, RowReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            queued_rows: 0,
            senders: 1,
            receiver_alive: true,
        }),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
        capacity_rows: capacity_rows.max(1),
    });
    (
        RowSender {
            shared: shared.clone(),
        },
        RowReceiver { shared },
    )
}

impl<T: Rows> RowSender<T> {
    /// Sends, blocking while the channel is full. Returns the item back if the
    /// receiver is gone.
    pub fn send(&self, item: T) -> Result<(), T> {
        let rows = item.rows();
        let mut st = self.shared.state.lock().expect("channel poisoned");
        loop {
            if !st.receiver_alive {
                return Err(item);
            }
            if st.queue.is_empty() || st.queued_rows + rows <= self.shared.capacity_rows {
                break;
            }
            st = self.shared.not_full.wait(st).expect("channel poisoned");
        }
        st.queued_rows += rows;
        st.queue.push_back(item);
        drop(st);
        self.shared.not_empty.notify_one();
        Ok(())
    }

    /// Rows currently queued.
    pub fn queued_rows(&self) -> usize {
        self.shared
            .state
            .lock()
            .expect("channel poisoned")
            .queued_rows
    }
}

impl<T> Clone for RowSender<T> {
    fn clone(&self) -> Self {
        self.shared.state.lock().expect("channel poisoned").senders += 1;
        Self {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for RowSender<T> {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock().expect("channel poisoned");
        st.senders -= 1;
        if st.senders == 0 {
            drop(st);
            self.shared.not_empty.notify_all();
        }
    }
}

/// Outcome of a receive with timeout.
pub enum Recv<T> {
    /// An item.
    Item(T),
    /// Nothing arrived within the timeout.
    Timeout,
    /// All senders are gone and the queue is empty.
    Closed,
}

impl<T: Rows> RowReceiver<T> {
    /// Rows currently queued.
    pub fn queued_rows(&self) -> usize {
        self.shared
            .state
            .lock()
            .expect("channel poisoned")
            .queued_rows
    }

    /// Receives the next item, waiting up to `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Recv<T> {
        let mut st = self.shared.state.lock().expect("channel poisoned");
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Some(item) = st.queue.pop_front() {
                st.queued_rows -= item.rows();
                drop(st);
                self.shared.not_full.notify_all();
                return Recv::Item(item);
            }
            if st.senders == 0 {
                return Recv::Closed;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return Recv::Timeout;
            }
            st = self
                .shared
                .not_empty
                .wait_timeout(st, deadline - now)
                .expect("channel poisoned")
                .0;
        }
    }
}

impl<T> Drop for RowReceiver<T> {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock().expect("channel poisoned");
        st.receiver_alive = false;
        st.queue.clear();
        drop(st);
        self.shared.not_full.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Item(usize);
    impl Rows for Item {
        fn rows(&self) -> usize {
            self.0
        }
    }

    #[test]
    fn blocks_on_rows_not_messages() {
        let (tx, rx) = row_channel::<Item>(10);
        tx.send(Item(6)).ok().unwrap();
        tx.send(Item(4)).ok().unwrap();
        assert_eq!(tx.queued_rows(), 10);
        let tx2 = tx.clone();
        let h = std::thread::spawn(move || tx2.send(Item(1)).is_ok());
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !h.is_finished(),
            "sender must wait while the channel is full"
        );
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(1)),
            Recv::Item(Item(6))
        ));
        assert!(h.join().unwrap());
        drop(tx);
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(1)),
            Recv::Item(Item(4))
        ));
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(1)),
            Recv::Item(Item(1))
        ));
        assert!(matches!(
            rx.recv_timeout(Duration::from_millis(10)),
            Recv::Closed
        ));
    }

    #[test]
    fn oversize_item_passes_when_empty() {
        let (tx, rx) = row_channel::<Item>(2);
        tx.send(Item(50)).ok().unwrap();
        assert!(matches!(
            rx.recv_timeout(Duration::from_secs(1)),
            Recv::Item(Item(50))
        ));
    }
}
