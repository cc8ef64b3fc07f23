//! One service's probing over real sockets: executes the [`Action`]s of a
//! [`ServiceScan`] with tokio sockets and timers and feeds back what
//! happened as [`Event`]s. The state machine decides everything (order,
//! waits, matches); this only shuttles bytes. Memory stays bounded: one
//! read buffer, and the machine stops reading a probe at 4096 bytes.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Instant;

use openssl::ssl::SslContext;
use scry_service::{Action, Event, ProbeDb, Protocol, ScanConfig, ServiceResult, ServiceScan};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::watch;
use tokio_openssl::SslStream;

use super::tls;
use crate::output::{Banner, BANNER_BYTES};

/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 4096;

/// The connection of the probe in progress.
enum Conn {
    None,
    Tcp(TcpStream),
    Tls(Pin<Box<SslStream<TcpStream>>>),
    Udp(UdpSocket),
}

/// What the driver does next, besides waiting for bytes.
#[derive(PartialEq, Eq)]
enum Pending {
    Read,
    Connect,
    Tls,
}

/// What a probed service gives back.
pub struct Probed {
    pub result: ServiceResult,
    /// The first connection's unasked bytes and the first TLS certificate.
    pub banner: Banner,
}

/// When a service gives up besides its own timeouts, and whether it says what it does.
#[derive(Clone, Copy, Debug, Default)]
pub struct Limits {
    /// The host's `--host-timeout` ends here: the service ends incomplete.
    pub deadline: Option<Instant>,
    /// `--version-trace`: each step on standard error.
    pub trace: bool,
}

/// Runs version detection of `peer` to its end (or until `abort` turns
/// true, or `limits.deadline` passes).
pub async fn probe(
    db: &'static ProbeDb,
    config: ScanConfig,
    peer: SocketAddr,
    protocol: Protocol,
    connector: &SslContext,
    mut abort: watch::Receiver<bool>,
    limits: Limits,
) -> Probed {
    let proto = if protocol == Protocol::Udp { "udp" } else { "tcp" };
    let trace = |what: std::fmt::Arguments<'_>| {
        if limits.trace {
            eprintln!("scry: version-trace {peer}/{proto}: {what}");
        }
    };
    let now = Instant::now();
    let mut scan = ServiceScan::new(db, config, peer.port(), protocol, now);
    let mut actions: std::collections::VecDeque<Action> = scan.start(now).into();
    let mut conn = Conn::None;
    let mut pending = Pending::Read;
    let mut deadline = now;
    let mut buf = vec![0u8; READ_CHUNK];
    let mut banner = Banner::default();
    let mut session: Option<openssl::ssl::SslSession> = None;
    // The banner is what the first connection brings before the first probe is sent.
    let (mut connections, mut sent) = (0u32, false);
    loop {
        while let Some(action) = actions.pop_front() {
            if limits.trace {
                trace_action(&trace, &action, scan.current_probe().map(|id| db.probe(id).name()));
            }
            match action {
                Action::Connect => pending = Pending::Connect,
                Action::StartTls => pending = Pending::Tls,
                Action::WaitUntil(at) => deadline = at,
                Action::Close => {
                    // TLS 1.3 tickets arrive after the handshake: keep the session at the end.
                    if let Conn::Tls(s) = &conn {
                        session = tls::session(s).or(session.take());
                    }
                    conn = Conn::None;
                }
                Action::Send(bytes) => {
                    sent = true;
                    if let Err(e) = send(&mut conn, &bytes).await {
                        let now = Instant::now();
                        actions.extend(scan.handle(now, write_event(&e)));
                    }
                }
                Action::Done(result) => return Probed { result: *result, banner },
            }
        }
        let timer = tokio::time::sleep_until(deadline.into());
        let host_timeout = async {
            match limits.deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let event = tokio::select! {
            biased;
            _ = abort.wait_for(|stop| *stop) => Owned::Event(Event::Abort),
            () = host_timeout => {
                trace(format_args!("host timeout"));
                Owned::Event(Event::Abort)
            }
            _ = timer => Owned::Event(Event::Timer),
            e = step(&mut conn, &mut pending, peer, protocol, (connector, session.as_ref()), &mut buf) => e,
        };
        let event_now = Instant::now();
        let event = match event {
            Owned::Connected => {
                connections += 1;
                Event::Connected
            }
            Owned::TlsUp => {
                if let (Conn::Tls(s), None) = (&conn, &banner.certificate) {
                    banner.certificate = tls::certificate(s);
                }
                Event::TlsEstablished
            }
            Owned::Data(n) => {
                if connections == 1 && !sent && banner.bytes.len() < BANNER_BYTES {
                    let take = n.min(BANNER_BYTES - banner.bytes.len());
                    banner.bytes.extend_from_slice(&buf[..take]);
                }
                Event::Data(&buf[..n])
            }
            Owned::Event(e) => e,
        };
        if limits.trace {
            match event {
                Event::Data(bytes) => trace(format_args!("read {} bytes", bytes.len())),
                other => trace(format_args!("{other:?}")),
            }
        }
        actions.extend(scan.handle(event_now, event));
    }
}

/// One `--version-trace` line for `action`, naming the probe in progress.
fn trace_action(trace: &impl Fn(std::fmt::Arguments<'_>), action: &Action, probe: Option<&str>) {
    let probe = probe.unwrap_or("-");
    match action {
        Action::Connect => trace(format_args!("probe {probe}: connect")),
        Action::StartTls => trace(format_args!("probe {probe}: TLS handshake")),
        Action::Send(bytes) => trace(format_args!("probe {probe}: send {} bytes", bytes.len())),
        Action::WaitUntil(at) => {
            let ms = at.saturating_duration_since(Instant::now()).as_millis();
            trace(format_args!("probe {probe}: wait up to {ms} ms"));
        }
        Action::Close => trace(format_args!("probe {probe}: close")),
        Action::Done(r) => {
            let fields = [&r.name, &r.info.product, &r.info.version, &r.info.info];
            let said: Vec<&str> = fields.iter().filter_map(|f| f.as_deref()).collect();
            trace(format_args!("done: {:?} (conf {}) {}", r.outcome, r.confidence, said.join(" | ")));
        }
    }
}

/// An event whose bytes sit in the read buffer.
enum Owned {
    Connected,
    TlsUp,
    Data(usize),
    Event(Event<'static>),
}

/// Connects, runs the handshake or reads once, as `pending` says.
async fn step(
    conn: &mut Conn,
    pending: &mut Pending,
    peer: SocketAddr,
    protocol: Protocol,
    (connector, session): (&SslContext, Option<&openssl::ssl::SslSession>),
    buf: &mut [u8],
) -> Owned {
    match std::mem::replace(pending, Pending::Read) {
        Pending::Connect => match connect(peer, protocol).await {
            Ok(c) => {
                *conn = c;
                Owned::Connected
            }
            Err(_) => Owned::Event(Event::ConnectFailed),
        },
        Pending::Tls => {
            let Conn::Tcp(tcp) = std::mem::replace(conn, Conn::None) else {
                return Owned::Event(Event::ConnectFailed);
            };
            match tls::handshake(connector, tcp, peer, session).await {
                Ok(stream) => {
                    *conn = Conn::Tls(stream);
                    Owned::TlsUp
                }
                Err(_) => Owned::Event(Event::ConnectFailed),
            }
        }
        Pending::Read => {
            let read = match conn {
                Conn::None => return std::future::pending().await,
                Conn::Tcp(s) => s.read(buf).await,
                Conn::Tls(s) => s.read(buf).await,
                Conn::Udp(s) => s.recv(buf).await,
            };
            match read {
                Ok(0) if !matches!(conn, Conn::Udp(_)) => Owned::Event(Event::Closed),
                Ok(n) => Owned::Data(n),
                Err(e) => Owned::Event(read_event(&e)),
            }
        }
    }
}

async fn connect(peer: SocketAddr, protocol: Protocol) -> io::Result<Conn> {
    match protocol {
        Protocol::Tcp => Ok(Conn::Tcp(TcpStream::connect(peer).await?)),
        Protocol::Udp => {
            let any: SocketAddr = match peer {
                SocketAddr::V4(_) => (std::net::Ipv4Addr::UNSPECIFIED, 0).into(),
                SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            let socket = UdpSocket::bind(any).await?;
            socket.connect(peer).await?;
            Ok(Conn::Udp(socket))
        }
    }
}

async fn send(conn: &mut Conn, bytes: &[u8]) -> io::Result<()> {
    match conn {
        Conn::None => Err(io::ErrorKind::NotConnected.into()),
        Conn::Tcp(s) => s.write_all(bytes).await,
        Conn::Tls(s) => {
            s.write_all(bytes).await?;
            s.flush().await
        }
        Conn::Udp(s) => s.send(bytes).await.map(|_| ()),
    }
}

/// nmap's split of read errors (service_scan.cc `servicescan_read_handler`):
/// reset-like, blamed on the probe, or fatal for the service.
fn read_event(e: &io::Error) -> Event<'static> {
    use io::ErrorKind as K;
    match e.kind() {
        K::ConnectionReset | K::ConnectionRefused | K::ConnectionAborted => Event::Reset,
        K::BrokenPipe => Event::ProbeError,
        _ => match e.raw_os_error() {
            Some(libc::EIO | libc::EPROTO | libc::EMSGSIZE | libc::EOPNOTSUPP | libc::ENOPROTOOPT)
            | Some(libc::ENETRESET) => Event::ProbeError,
            Some(_) => Event::Unreachable,
            // No errno: a TLS error, which nmap sees as EIO.
            None => Event::ProbeError,
        },
    }
}

/// A failed send: a broken or reset connection is the probe's fault (next
/// probe), anything else ends the service.
fn write_event(e: &io::Error) -> Event<'static> {
    match e.kind() {
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset => Event::ProbeError,
        _ => Event::WriteFailed,
    }
}

#[cfg(test)]
#[path = "driver_tests.rs"]
mod tests;
