//! TLS for `-sV` with nmap's permissive client settings: every protocol
//! version and cipher OpenSSL still has (security level 0, legacy
//! renegotiation), no certificate verification, no SNI for an address.
//! OpenSSL (not rustls) because it still speaks to the old servers a scan
//! meets. Each service offers its last session again on its next
//! connection, as nmap reuses its `ssl_session`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;

use openssl::ssl::{
    SslConnector, SslMethod, SslOptions, SslSession, SslSessionCacheMode, SslVerifyMode, SslVersion,
};
use openssl::x509::X509NameRef;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::output::Certificate;

/// OpenSSL's `SSL_OP_LEGACY_SERVER_CONNECT`, which the openssl crate does not name.
const LEGACY_SERVER_CONNECT: u64 = 1 << 2;

/// Builds the connector every TLS service shares.
///
/// # Errors
/// OpenSSL refused a setting.
pub fn connector() -> Result<SslConnector, openssl::error::ErrorStack> {
    let mut b = SslConnector::builder(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::NONE);
    b.set_security_level(0);
    // The lowest version this OpenSSL was built with.
    b.set_min_proto_version(None::<SslVersion>)?;
    b.set_cipher_list("ALL:COMPLEMENTOFALL:@SECLEVEL=0")?;
    // OpenSSL 3 left SSL_OP_LEGACY_SERVER_CONNECT (1 << 2) out of SSL_OP_ALL;
    // without it, servers that never learnt RFC 5746 are refused.
    b.set_options(SslOptions::ALL | SslOptions::from_bits_retain(LEGACY_SERVER_CONNECT));
    b.set_session_cache_mode(SslSessionCacheMode::CLIENT);
    Ok(b.build())
}

/// A TLS client handshake over `tcp`, offering `session` (from an earlier
/// connection of the same service through the same connector) for resumption.
///
/// # Errors
/// The handshake failed (any TLS alert, a closed connection, a reset).
pub async fn handshake(
    connector: &SslConnector,
    tcp: TcpStream,
    peer: SocketAddr,
    session: Option<&SslSession>,
) -> io::Result<Pin<Box<SslStream<TcpStream>>>> {
    let mut config = connector.configure().map_err(io::Error::other)?;
    config.set_verify_hostname(false);
    config.set_use_server_name_indication(false);
    let mut ssl = config.into_ssl(&peer.ip().to_string()).map_err(io::Error::other)?;
    if let Some(session) = session {
        // SAFETY: the session came from a connection made through `connector`,
        // whose context this one is (SSL_set_session's one requirement).
        unsafe { ssl.set_session(session) }.map_err(io::Error::other)?;
    }
    let mut stream = Box::pin(SslStream::new(ssl, tcp).map_err(io::Error::other)?);
    stream.as_mut().connect().await.map_err(|e| match e.into_io_error() {
        Ok(io) => io,
        Err(e) => io::Error::other(e),
    })?;
    Ok(stream)
}

/// The session of a connection, to offer on the service's next one.
pub fn session(stream: &SslStream<TcpStream>) -> Option<SslSession> {
    stream.ssl().session().map(|s| s.to_owned())
}

/// The peer certificate's subject, issuer and validity, if it sent one.
pub fn certificate(stream: &SslStream<TcpStream>) -> Option<Certificate> {
    let cert = stream.ssl().peer_certificate()?;
    Some(Certificate {
        subject: name_text(cert.subject_name()),
        issuer: name_text(cert.issuer_name()),
        not_before: cert.not_before().to_string(),
        not_after: cert.not_after().to_string(),
    })
}

/// `commonName=example.org/organizationName=Example`, in the order of the name.
fn name_text(name: &X509NameRef) -> String {
    let parts: Vec<String> = name
        .entries()
        .map(|e| {
            let key = e.object().nid().long_name().map_or_else(|_| e.object().to_string(), str::to_owned);
            let value = e.data().to_string().unwrap_or_else(|_| String::from("?"));
            format!("{key}={value}")
        })
        .collect();
    parts.join("/")
}
