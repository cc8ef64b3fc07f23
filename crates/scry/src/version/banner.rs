//! `--banners` without `-sV`: what a TCP service sends unasked within
//! [`WAIT`] of connecting, and, when it sends nothing, its certificate if it
//! speaks TLS (a second connection tries a handshake).

use std::net::SocketAddr;
use std::time::Duration;

use openssl::ssl::SslContext;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::timeout_at;

use super::tls;
use crate::output::{Banner, BANNER_BYTES};

/// How long a service is given to speak first: nmap's NULL probe waits 6 s.
pub const WAIT: Duration = Duration::from_secs(6);
/// nmap's connect timeout, which also bounds the TLS handshake.
const CONNECT: Duration = scry_service::CONNECT_SSL_TIMEOUT;

/// The banner of `peer`; empty when it neither speaks first nor TLS, or on
/// Ctrl-C.
pub async fn grab(peer: SocketAddr, connector: &SslContext, mut aborted: watch::Receiver<bool>) -> Banner {
    tokio::select! {
        banner = grab_inner(peer, connector) => banner,
        _ = aborted.wait_for(|stop| *stop) => Banner::default(),
    }
}

async fn grab_inner(peer: SocketAddr, connector: &SslContext) -> Banner {
    let mut banner = Banner::default();
    let start = tokio::time::Instant::now();
    let Ok(Ok(mut tcp)) = timeout_at(start + CONNECT, TcpStream::connect(peer)).await else { return banner };
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut buf = vec![0u8; BANNER_BYTES];
    while banner.bytes.len() < BANNER_BYTES {
        let room = BANNER_BYTES - banner.bytes.len();
        match timeout_at(deadline, tcp.read(&mut buf[..room])).await {
            Ok(Ok(n)) if n > 0 => banner.bytes.extend_from_slice(&buf[..n]),
            _ => break,
        }
    }
    drop(tcp);
    if banner.bytes.is_empty() {
        let start = tokio::time::Instant::now();
        if let Ok(Ok(tcp)) = timeout_at(start + CONNECT, TcpStream::connect(peer)).await {
            if let Ok(Ok(stream)) =
                timeout_at(start + CONNECT, tls::handshake(connector, tcp, peer, None)).await
            {
                banner.certificate = tls::certificate(&stream);
            }
        }
    }
    banner
}
