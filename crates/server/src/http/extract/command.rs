use crate::app::error::{ApiError, ErrorCode};
use crate::app::json::parse_json;
use crate::app::mutation::WriteMeta;
use crate::app::secrets::sha256_hex;
use crate::app::state::AppState;
use crate::http::extract::Caller;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use huiyuan_domain::auth::Principal;
use huiyuan_domain::validation::FieldError;
use serde::de::DeserializeOwned;

pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
pub const REQUEST_ID_HEADER: &str = "x-request-id";
/// Longest idempotency key accepted.
const IDEMPOTENCY_KEY_MAX_LEN: usize = 255;

/// A mutating request: the authenticated caller, the parsed JSON body (an empty body reads as
/// `{}`) and the write metadata.
pub struct Command<T> {
    pub caller: Principal,
    pub body: T,
    pub meta: WriteMeta,
}

impl<T: DeserializeOwned> FromRequest<AppState> for Command<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, app: &AppState) -> Result<Self, ApiError> {
        let (mut parts, body) = request.into_parts();
        let Caller(caller) = Caller::from_request_parts(&mut parts, app).await?;
        let idempotency_key = match parts.headers.get(IDEMPOTENCY_KEY) {
            None => None,
            Some(value) => Some(parse_idempotency_key(value.to_str().unwrap_or(""))?),
        };
        let request_id = parts
            .headers
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let fingerprint = format!("{} {}\n", parts.method, parts.uri.path());
        let bytes = json_bytes(Request::from_parts(parts, body), app).await?;
        let body = parse_json(&bytes)?;
        let request_hash = sha256_hex(&[fingerprint.as_bytes(), &bytes].concat());
        Ok(Self {
            caller,
            body,
            meta: WriteMeta {
                idempotency_key,
                request_hash,
                request_id,
            },
        })
    }
}

/// A JSON body without authentication (login).
pub struct PublicJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for PublicJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = json_bytes(request, state).await?;
        Ok(Self(parse_json(&bytes)?))
    }
}

/// The raw body of a JSON request: too large is a 413 and another media type a 415, both in our
/// problem format.
async fn json_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    let is_json = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.contains("+json"));
    let bytes = Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge)
            } else {
                ApiError::with_detail(ErrorCode::InvalidJson, rejection.body_text())
            }
        })?;
    if !bytes.is_empty() && !is_json {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType));
    }
    Ok(bytes)
}

fn parse_idempotency_key(raw: &str) -> Result<String, ApiError> {
    let key = raw.trim();
    let printable = key.bytes().all(|b| b.is_ascii_graphic());
    if key.is_empty() || key.len() > IDEMPOTENCY_KEY_MAX_LEN || !printable {
        return Err(FieldError::new(
            "Idempotency-Key",
            "invalid_format",
            format!("must be 1 to {IDEMPOTENCY_KEY_MAX_LEN} printable ASCII characters"),
        )
        .into());
    }
    Ok(key.to_owned())
}
