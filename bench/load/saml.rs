//! `saml-acs`: IdP-initiated SAML sign-ins, each response signed beforehand by the test IdP
//! (the IdP's work, not the server's) and posted once.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::saml_idp::{encode, response, Spec, TestIdp};

/// The server takes a response up to 90 s after its IssueInstant (whole seconds): older
/// ones are not posted.
const MAX_AGE: Duration = Duration::from_secs(80);

/// Signed responses, each posted at most once: the server refuses a replayed assertion.
pub struct Pool {
    /// Form bodies (`SAMLResponse=…`), ready to post, and when each was signed.
    bodies: Vec<(Instant, String)>,
    next: AtomicUsize,
    posted: AtomicUsize,
    /// Set when the next response was too old to post: the pool is done.
    stale: AtomicBool,
    /// How long signing took, and on how many threads.
    signing: Duration,
    threads: usize,
}

impl Pool {
    /// Signs `count` unsolicited responses for the ACS at `base`, for `user_names` in turn
    /// (NameID and email: existing users, so no sign-in creates one), each with its own
    /// assertion ID and its assertion signed (RSA-SHA256). IssueInstant is the signing
    /// time, and the threads take turns, so responses are signed in the order they are
    /// posted.
    pub fn sign(idp: &TestIdp, base: &str, org: &str, user_names: &[String], count: usize) -> Pool {
        let acs = format!("{base}/saml/{org}/acs");
        let sp = format!("{base}/saml/{org}/metadata");
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let started = Instant::now();
        let mut bodies: Vec<(usize, Instant, String)> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|thread| {
                    let (acs, sp) = (&acs, &sp);
                    scope.spawn(move || {
                        (thread..count)
                            .step_by(threads)
                            .map(|k| {
                                let name = &user_names[k % user_names.len()];
                                let xml = response(idp, &Spec::new(idp, sp, acs, name));
                                let body = url::form_urlencoded::Serializer::new(String::new())
                                    .append_pair("SAMLResponse", &encode(&xml))
                                    .finish();
                                (k, Instant::now(), body)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("a signing thread"))
                .collect()
        });
        bodies.sort_by_key(|(k, _, _)| *k);
        let signing = started.elapsed();
        eprintln!(
            "saml-acs: signed {count} responses for {} users in {:.1} s on {threads} threads",
            user_names.len(),
            signing.as_secs_f64(),
        );
        Pool {
            bodies: bodies.into_iter().map(|(_, at, body)| (at, body)).collect(),
            next: AtomicUsize::new(0),
            posted: AtomicUsize::new(0),
            stale: AtomicBool::new(false),
            signing,
            threads,
        }
    }

    /// The next unused response; None once they are all taken or the next one is too old.
    pub fn take(&self) -> Option<&str> {
        if self.stale.load(Ordering::Relaxed) {
            return None;
        }
        let (signed, body) = self.bodies.get(self.next.fetch_add(1, Ordering::Relaxed))?;
        if signed.elapsed() > MAX_AGE {
            self.stale.store(true, Ordering::Relaxed);
            return None;
        }
        self.posted.fetch_add(1, Ordering::Relaxed);
        Some(body)
    }

    /// How the pool served a run that took `elapsed` seconds of the `planned` duration.
    pub fn run(&self, elapsed: f64, planned: Duration) -> Run {
        let posted = self.posted.load(Ordering::Relaxed);
        let stale = self.stale.load(Ordering::Relaxed);
        let early = (stale || posted == self.bodies.len()) && elapsed < planned.as_secs_f64();
        let why = if stale {
            "its next response was signed over 80 s before (the server takes one for 90 s)"
        } else {
            "all its responses were posted"
        };
        if early {
            eprintln!(
                "saml-acs: stopped after {elapsed:.1} s and {posted} responses: {why}; \
                 BENCH_SAML_RESPONSES and BENCH_SECONDS size the pool"
            );
        }
        Run {
            signed: self.bodies.len(),
            signing_seconds: self.signing.as_secs_f64(),
            threads: self.threads,
            posted,
            stopped: early.then_some((elapsed, why)),
        }
    }
}

/// How the pool served `saml-acs`.
pub struct Run {
    pub signed: usize,
    pub signing_seconds: f64,
    pub threads: usize,
    /// Warm-up included.
    pub posted: usize,
    /// When the pool ended the timed run early (seconds into it), and why.
    pub stopped: Option<(f64, &'static str)>,
}

/// Posts one response to the ACS. Ok when the server signs the person in: a redirect
/// (303) that sets a non-empty `gatehouse_session` cookie.
pub async fn post(client: &reqwest::Client, acs: &str, body: String) -> Result<(), String> {
    let r = client
        .post(acs)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let session = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.strip_prefix("gatehouse_session="))
        .any(|v| !v.starts_with(';') && !v.is_empty());
    let page = r.text().await.map_err(|e| e.to_string())?;
    if status != 303 || !session {
        return Err(format!(
            "status {status}, session cookie {session}: {}",
            text_of(&page)
        ));
    }
    Ok(())
}

/// The words of an HTML page, tags left out, cut at 300 characters.
fn text_of(page: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in page.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                text.push(' ');
            }
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    words.join(" ").chars().take(300).collect()
}
