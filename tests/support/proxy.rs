//! A loopback TCP proxy that a fault test puts between two processes and then breaks and
//! heals: the network between them, simulated without privileges.
//!
//! Clients connect to [`Proxy::addr`]; the proxy forwards to the target while [`Mode::Open`].
//! [`Proxy::set`] changes the mode for new connections and cuts every open one unless the
//! new mode is `Open`, as a partition does to a live TCP stream. [`Mode::JsonRpcError`]
//! stands for an HTTP JSON-RPC server (an Ethereum node) that is up but answers errors.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the proxy does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Open,
    /// Accept, then close at once (the peer sees a reset or an empty reply: a server down).
    Refuse,
    /// Accept and never answer (a partition: the peer waits until its own timeout).
    Blackhole,
    /// Forward, each new connection only after this delay (a slow link or server).
    Delay(Duration),
    /// Answer every HTTP request with a JSON-RPC error (an Ethereum node that is up but
    /// failing: overloaded, out of sync); nothing is forwarded.
    JsonRpcError,
}

/// A running proxy; stops (and cuts every connection) when dropped.
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<(Mode, u64)>,
    accept: JoinHandle<()>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let addr = listener.local_addr().expect("proxy address");
        let (mode, watcher) = watch::channel((Mode::Open, 0));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accept = tokio::spawn(accept_loop(
            listener,
            target,
            watcher,
            Arc::clone(&connections),
        ));
        Self {
            addr,
            mode,
            accept,
            connections,
        }
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>`, for clients that take a URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Switches the mode; every open connection is cut unless the new mode is `Open` (and
    /// the old one forwarded or hung: a node that answered errors answers properly now).
    pub fn set(&self, mode: Mode) {
        let mut old = mode;
        self.mode.send_modify(|(m, generation)| {
            old = std::mem::replace(m, mode);
            *generation += 1;
        });
        if mode != Mode::Open || old == Mode::JsonRpcError {
            for connection in self.connections.lock().expect("connections").drain(..) {
                connection.abort();
            }
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for connection in self.connections.lock().expect("connections").drain(..) {
            connection.abort();
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    target: SocketAddr,
    mode: watch::Receiver<(Mode, u64)>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
) {
    while let Ok((client, _)) = listener.accept().await {
        let current = mode.borrow().0;
        let task = tokio::spawn(serve(client, target, current));
        let mut open = connections.lock().expect("connections");
        open.retain(|c| !c.is_finished());
        open.push(task);
    }
}

async fn serve(mut client: TcpStream, target: SocketAddr, mode: Mode) {
    match mode {
        Mode::Refuse => {
            let _ = client.shutdown().await;
        }
        Mode::Blackhole => std::future::pending::<()>().await,
        Mode::JsonRpcError => answer_errors(client).await,
        Mode::Open | Mode::Delay(_) => {
            if let Mode::Delay(delay) = mode {
                tokio::time::sleep(delay).await;
            }
            let Ok(mut server) = TcpStream::connect(target).await else {
                return;
            };
            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
        }
    }
}

/// Reads HTTP requests from `client` and answers each with a JSON-RPC error that echoes its
/// id, until the client closes the connection.
async fn answer_errors(mut client: TcpStream) {
    use tokio::io::AsyncReadExt;
    let mut buffer = Vec::new();
    loop {
        let Some(body) = request_body(&mut buffer) else {
            let mut chunk = [0u8; 4096];
            match client.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
            continue;
        };
        let id = serde_json::from_slice::<serde_json::Value>(&body)
            .map(|request| request["id"].clone())
            .unwrap_or(serde_json::Value::Null);
        let answer = serde_json::json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": -32603, "message": "injected fault: the node is failing"},
        })
        .to_string();
        let response = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{answer}",
            answer.len()
        );
        if client.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// The body of the first complete HTTP request in `buffer` (removed from it), if one is.
fn request_body(buffer: &mut Vec<u8>) -> Option<Vec<u8>> {
    let end = buffer.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&buffer[..end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if buffer.len() < end + length {
        return None;
    }
    let body = buffer[end..end + length].to_vec();
    buffer.drain(..end + length);
    Some(body)
}
