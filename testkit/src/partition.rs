//! A TCP proxy that a test can partition, as across a dead network link.

use std::sync::Arc;

use tokio::sync::watch;

/// A TCP proxy on a free loopback port that a test can partition: while partitioned, bytes
/// in both directions vanish and new connections hang, as across a dead network link (the
/// sockets stay open: nobody is told). Healing closes what was cut and lets new connections through.
pub struct Partition {
    pub port: u16,
    cut: Arc<watch::Sender<u64>>,
    task: tokio::task::JoinHandle<()>,
}

impl Partition {
    pub async fn start(upstream: u16) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // Even generation: linked; odd: partitioned. Each cut or heal is a new generation.
        let cut = Arc::new(watch::channel(0u64).0);
        let c = cut.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let mut link = c.subscribe();
                tokio::spawn(async move {
                    // Born in a partition: hang until it heals, then close.
                    if *link.borrow_and_update() % 2 == 1 {
                        let _ = link.changed().await;
                        return;
                    }
                    let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                    else {
                        return;
                    };
                    let (mut cr, mut cw) = client.into_split();
                    let (mut sr, mut sw) = server.into_split();
                    let born = *link.borrow();
                    tokio::select! {
                        _ = forward(&mut cr, &mut sw, link.clone(), born) => {}
                        _ = forward(&mut sr, &mut cw, link.clone(), born) => {}
                        // Healed after a cut: this connection's stream lost bytes; close it.
                        _ = async { let _ = link.wait_for(|g| *g > born + 1).await; } => {}
                    }
                });
            }
        });
        Self { port, cut, task }
    }

    /// Stops all traffic, silently.
    pub fn cut(&self) {
        self.cut.send_modify(|g| {
            if *g % 2 == 0 {
                *g += 1;
            }
        });
    }

    /// Lets traffic through again.
    pub fn heal(&self) {
        self.cut.send_modify(|g| {
            if *g % 2 == 1 {
                *g += 1;
            }
        });
    }
}

impl Drop for Partition {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Copies `r` to `w` while the link is up; drops what arrives while it is cut.
async fn forward(
    r: &mut tokio::net::tcp::OwnedReadHalf,
    w: &mut tokio::net::tcp::OwnedWriteHalf,
    link: watch::Receiver<u64>,
    born: u64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if *link.borrow() == born && w.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
