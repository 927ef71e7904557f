//! One yamux connection driven by its own task: both ends of the tunnel use it. The task owns
//! the connection (yamux makes progress only while it is polled), hands inbound streams to a
//! callback and opens outbound streams on request.

use std::future::poll_fn;
use std::task::Poll;

use tokio::sync::{mpsc, oneshot};
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt, TokioAsyncReadCompatExt};
use tokio_util::sync::CancellationToken;

/// A stream of the tunnel, usable with tokio's I/O traits.
pub type MuxStream = Compat<yamux::Stream>;

/// Why a stream could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum MuxError {
    /// The connection is gone.
    #[error("the tunnel is closed")]
    Closed,
    /// yamux refused (too many streams, protocol error).
    #[error("tunnel: {0}")]
    Yamux(#[from] yamux::ConnectionError),
}

type Opening = oneshot::Sender<Result<yamux::Stream, MuxError>>;

/// A handle on a running connection: opens streams, closes it, tells when it ended.
#[derive(Clone)]
pub struct Mux {
    open: mpsc::Sender<Opening>,
    /// Cancelled when the connection ended (either side, or [`Mux::close`]).
    pub done: CancellationToken,
}

impl Mux {
    /// Opens a new stream to the other end.
    pub async fn open(&self) -> Result<MuxStream, MuxError> {
        let (tx, rx) = oneshot::channel();
        self.open.send(tx).await.map_err(|_| MuxError::Closed)?;
        let stream = rx.await.map_err(|_| MuxError::Closed)??;
        Ok(stream.compat())
    }

    /// Closes the connection (a GoAway to the other end), then ends its task.
    pub fn close(&self) {
        self.done.cancel();
    }

    /// Whether the connection ended.
    pub fn is_closed(&self) -> bool {
        self.done.is_cancelled()
    }
}

/// The yamux settings both ends use: at most `max_streams` streams at once.
fn config(max_streams: usize) -> yamux::Config {
    let mut c = yamux::Config::default();
    c.set_max_num_streams(max_streams);
    c
}

/// Starts driving a connection over `io`; `inbound` gets each stream the other end opens.
pub fn spawn<T, F>(io: T, mode: yamux::Mode, max_streams: usize, inbound: F) -> Mux
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(MuxStream) + Send + Sync + 'static,
{
    let (open, mut requests) = mpsc::channel::<Opening>(64);
    let done = CancellationToken::new();
    let mux = Mux {
        open,
        done: done.clone(),
    };
    let mut conn = yamux::Connection::new(io.compat(), config(max_streams), mode);
    tokio::spawn(async move {
        let mut pending: Option<Opening> = None;
        let driven = poll_fn(|cx| {
            loop {
                if pending.is_none()
                    && let Poll::Ready(Some(tx)) = requests.poll_recv(cx)
                {
                    pending = Some(tx);
                }
                if let Some(tx) = pending.take() {
                    match conn.poll_new_outbound(cx) {
                        Poll::Ready(Ok(s)) => {
                            let _ = tx.send(Ok(s));
                            continue;
                        }
                        Poll::Ready(Err(e)) => {
                            let _ = tx.send(Err(MuxError::Closed));
                            return Poll::Ready(Err(e));
                        }
                        Poll::Pending => pending = Some(tx),
                    }
                }
                match conn.poll_next_inbound(cx) {
                    Poll::Ready(Some(Ok(s))) => inbound(s.compat()),
                    Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(e)),
                    Poll::Ready(None) => return Poll::Ready(Ok(())),
                    Poll::Pending => return Poll::Pending,
                }
            }
        });
        let ended = tokio::select! {
            r = driven => r,
            _ = done.cancelled() => Ok(()),
        };
        if let Err(e) = ended {
            tracing::debug!(error = %e, "tunnel connection ended");
        }
        done.cancel();
        // Tell the other end (best effort, bounded).
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(2),
            poll_fn(|cx| conn.poll_close(cx)),
        )
        .await;
        while let Ok(tx) = requests.try_recv() {
            let _ = tx.send(Err(MuxError::Closed));
        }
    });
    mux
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn streams_both_ways_and_close_ends_both_sides() {
        let (a, b) = tokio::io::duplex(64 * 1024);
        let server = spawn(a, yamux::Mode::Server, 16, |mut s| {
            tokio::spawn(async move {
                let mut buf = [0u8; 5];
                if s.read_exact(&mut buf).await.is_ok() {
                    let _ = s.write_all(&buf).await;
                    let _ = s.flush().await;
                }
            });
        });
        let client = spawn(b, yamux::Mode::Client, 16, |_| {});
        for _ in 0..3 {
            let mut s = client.open().await.expect("open");
            s.write_all(b"hello").await.expect("write");
            s.flush().await.expect("flush");
            let mut buf = [0u8; 5];
            s.read_exact(&mut buf).await.expect("read");
            assert_eq!(&buf, b"hello");
        }
        server.close();
        tokio::time::timeout(std::time::Duration::from_secs(5), client.done.cancelled())
            .await
            .expect("the client side sees the end");
        assert!(client.open().await.is_err());
    }
}
