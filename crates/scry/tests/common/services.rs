//! Reading version-detection results from nmap XML (nmap's and scry's)
//! and running nmap's `-sV` without its NSE `version` scripts.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use quick_xml::events::Event;

/// One port's `<service>` as nmap's XML gives it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServiceFields {
    pub state: String,
    pub attributes: BTreeMap<String, String>,
    pub cpes: Vec<String>,
}

/// The ports of an nmap XML document, by (protocol, port).
pub fn ports(xml: &str) -> BTreeMap<(String, u16), ServiceFields> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = BTreeMap::new();
    let mut current: Option<((String, u16), ServiceFields)> = None;
    let mut in_cpe = false;
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let attrs: BTreeMap<String, String> = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        let key = String::from_utf8(a.key.as_ref().to_vec()).unwrap();
                        (key, a.unescape_value().unwrap().into_owned())
                    })
                    .collect();
                match e.name().as_ref() {
                    b"port" => {
                        let key = (attrs["protocol"].clone(), attrs["portid"].parse().unwrap());
                        current = Some((key, ServiceFields::default()));
                    }
                    b"state" => {
                        if let Some((_, f)) = current.as_mut() {
                            f.state = attrs["state"].clone();
                        }
                    }
                    b"service" => {
                        if let Some((_, f)) = current.as_mut() {
                            // The fingerprint holds the scanner's name and the time: not compared.
                            f.attributes = attrs.into_iter().filter(|(k, _)| k != "servicefp").collect();
                            if let Some(info) = f.attributes.get_mut("extrainfo") {
                                *info = mask_uptime(info);
                            }
                        }
                    }
                    b"cpe" => in_cpe = true,
                    _ => {}
                }
            }
            Event::Text(t) if in_cpe => {
                if let Some((_, f)) = current.as_mut() {
                    f.cpes.push(t.unescape().unwrap().into_owned());
                }
            }
            Event::End(e) => match e.name().as_ref() {
                b"cpe" => in_cpe = false,
                b"port" => {
                    if let Some((key, f)) = current.take() {
                        out.insert(key, f);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    out
}

/// `uptime 56 seconds` becomes `uptime N seconds`; anything else is kept.
pub fn mask_uptime(info: &str) -> String {
    match info.strip_prefix("uptime ").and_then(|rest| rest.split_once(' ')) {
        Some((n, unit)) if n.bytes().all(|b| b.is_ascii_digit()) => format!("uptime N {unit}"),
        _ => info.to_owned(),
    }
}

/// An nmap data directory whose `scripts/script.db` is empty: nmap finds
/// every other file in its own install, but selects no script.
pub fn nmap_datadir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("scry-lab-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("scripts")).unwrap();
    std::fs::write(dir.join("scripts/script.db"), "").unwrap();
    dir
}

pub fn nmap_present() -> bool {
    let found =
        std::process::Command::new("nmap").arg("--version").output().is_ok_and(|o| o.status.success());
    let probes = Path::new("/usr/share/nmap/nmap-service-probes").is_file();
    if !(found && probes) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI=true but nmap is missing");
        eprintln!("skipped: nmap is not installed");
    }
    found && probes
}
