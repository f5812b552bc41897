//! The SAML connection on the setup page: the IdP's metadata given one of three ways (a
//! file, pasted XML, or a URL to fetch it from), checked and stored through
//! [`crate::admin::ops`] like the API and the command line do.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::console::Console;
use super::ops::{fetch_saml_metadata, import_saml_metadata, SetupError};
use super::setup::{back_to, SetupPage};
use crate::state::AppState;
use crate::web::pages::PageError;

/// The fields of the form, as sent.
#[derive(Default)]
struct SamlForm {
    csrf: String,
    file: Vec<u8>,
    xml: String,
    url: String,
}

impl SamlForm {
    /// How many of the three ways were used; an empty file input sends an empty part.
    fn ways_given(&self) -> usize {
        [
            !self.file.iter().all(u8::is_ascii_whitespace),
            !self.xml.trim().is_empty(),
            !self.url.trim().is_empty(),
        ]
        .into_iter()
        .filter(|given| *given)
        .count()
    }
}

/// A form that could not be read at all (not multipart, cut off, too large).
fn unreadable(status: StatusCode, detail: String) -> PageError {
    PageError::new(
        status,
        "The form could not be read",
        format!("The SAML form did not arrive whole ({detail}). Go back and try again."),
    )
    .back_to("/admin", "Back to the console")
}

async fn read_form(
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<SamlForm, PageError> {
    let mut multipart =
        multipart.map_err(|e| unreadable(StatusCode::BAD_REQUEST, e.body_text()))?;
    let broken =
        |e: axum::extract::multipart::MultipartError| unreadable(e.status(), e.body_text());
    let mut form = SamlForm::default();
    while let Some(field) = multipart.next_field().await.map_err(broken)? {
        match field.name().unwrap_or_default() {
            "csrf" => form.csrf = field.text().await.map_err(broken)?,
            "metadata_file" => form.file = field.bytes().await.map_err(broken)?.to_vec(),
            "metadata_xml" => form.xml = field.text().await.map_err(broken)?,
            "metadata_url" => form.url = field.text().await.map_err(broken)?,
            // Other parts are skipped by the next call.
            _ => {}
        }
    }
    Ok(form)
}

/// `POST /admin/orgs/{slug}/saml` (multipart/form-data).
pub async fn save(
    State(state): State<AppState>,
    console: Console,
    Path(slug): Path<String>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, PageError> {
    let form = read_form(multipart).await?;
    console.check_csrf(&form.csrf)?;
    let org = console.org(&state, &slug).await?;
    let refuse = |message: String| {
        let (xml, url) = (form.xml.clone(), form.url.clone());
        SetupPage::refuse(&state, &console, &org, "saml", message, |e| {
            e.saml_xml = xml;
            e.saml_url = url;
        })
    };
    match form.ways_given() {
        1 => {}
        0 => {
            return refuse(
                "Nothing was saved: give the identity provider's metadata one way — choose \
                 the file, paste the XML, or enter its URL."
                    .into(),
            )
            .await
        }
        n => {
            return refuse(format!(
                "Nothing was saved: give the metadata one way only (a file, pasted XML or a \
                 URL); this form had {n}."
            ))
            .await
        }
    }
    let (xml, url) = match metadata_of(&state, &form).await {
        Ok(found) => found,
        Err(reason) => return refuse(format!("The SAML connection was not saved: {reason}")).await,
    };
    match import_saml_metadata(&state.directory, &org, &xml, url, &console.actor()).await {
        Ok(_) => Ok(back_to(&org, "saml")),
        Err(SetupError::Invalid(reason)) => {
            refuse(format!("The SAML connection was not saved: {reason}.")).await
        }
        Err(SetupError::Directory(e)) => Err(e.into()),
    }
}

/// The metadata XML, and the URL it came from when it was fetched.
async fn metadata_of(
    state: &AppState,
    form: &SamlForm,
) -> Result<(String, Option<String>), String> {
    if !form.url.trim().is_empty() {
        let url = form.url.trim().to_string();
        let xml = fetch_saml_metadata(&state.outbound, &url)
            .await
            .map_err(|e| e.to_string())?;
        return Ok((xml, Some(url)));
    }
    if !form.xml.trim().is_empty() {
        return Ok((form.xml.clone(), None));
    }
    let text = String::from_utf8(form.file.clone())
        .map_err(|_| "the file is not text (UTF-8); choose the metadata XML file".to_string())?;
    Ok((text.trim_start_matches('\u{feff}').to_string(), None))
}
