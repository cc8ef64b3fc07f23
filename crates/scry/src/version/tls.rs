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
    Ssl, SslContext, SslMethod, SslMode, SslOptions, SslSession, SslSessionCacheMode, SslVerifyMode,
    SslVersion,
};
use openssl::x509::X509NameRef;
use tokio::net::TcpStream;
use tokio_openssl::SslStream;

use crate::output::Certificate;

/// OpenSSL's `SSL_OP_LEGACY_SERVER_CONNECT`, which the openssl crate does not name.
const LEGACY_SERVER_CONNECT: u64 = 1 << 2;

/// Builds the client context every TLS service shares. A bare context,
/// not the openssl crate's `SslConnector`, whose builder reads the system's
/// CA certificates (0.03-0.13 s before the first probe) for a verification
/// that is off anyway.
///
/// # Errors
/// OpenSSL refused a setting.
pub fn connector() -> Result<SslContext, openssl::error::ErrorStack> {
    let mut b = SslContext::builder(SslMethod::tls_client())?;
    b.set_verify(SslVerifyMode::NONE);
    b.set_security_level(0);
    // The lowest version this OpenSSL was built with.
    b.set_min_proto_version(None::<SslVersion>)?;
    b.set_cipher_list("ALL:COMPLEMENTOFALL:@SECLEVEL=0")?;
    // OpenSSL 3 left SSL_OP_LEGACY_SERVER_CONNECT (1 << 2) out of SSL_OP_ALL;
    // without it, servers that never learnt RFC 5746 are refused.
    // What the connector's builder used to add is kept: no compression, no SSLv2/v3.
    let connector = SslOptions::NO_COMPRESSION | SslOptions::NO_SSLV2 | SslOptions::NO_SSLV3;
    b.set_options(SslOptions::ALL | connector | SslOptions::from_bits_retain(LEGACY_SERVER_CONNECT));
    // As the connector's builder set it: tokio-openssl may retry a write from another buffer.
    b.set_mode(SslMode::AUTO_RETRY | SslMode::ACCEPT_MOVING_WRITE_BUFFER | SslMode::ENABLE_PARTIAL_WRITE);
    b.set_session_cache_mode(SslSessionCacheMode::CLIENT);
    Ok(b.build())
}

/// A TLS client handshake over `tcp`, offering `session` (from an earlier
/// connection of the same service through the same context) for resumption.
/// No SNI and no host name check: the target is an address.
///
/// # Errors
/// The handshake failed (any TLS alert, a closed connection, a reset).
pub async fn handshake(
    connector: &SslContext,
    tcp: TcpStream,
    _peer: SocketAddr,
    session: Option<&SslSession>,
) -> io::Result<Pin<Box<SslStream<TcpStream>>>> {
    let mut ssl = Ssl::new(connector).map_err(io::Error::other)?;
    if let Some(session) = session {
        // SAFETY: the session came from a connection made with `connector`,
        // the context of this one (SSL_set_session's one requirement).
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
