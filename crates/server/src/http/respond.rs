//! The write path's answers as responses: [`Respond`] gives handlers `mutate` (a fixed status),
//! `mutate_redacted` (secrets kept out of the stored replay) and `mutate_answering` (a status
//! that depends on what the change found) over [`AppState::write`].

use crate::app::error::ApiResult;
use crate::app::mutation::{Mutation, Work, WriteMeta, Written};
use crate::app::state::AppState;
use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use huiyuan_domain::auth::Principal;
use serde::Serialize;

/// Header set on a response replayed from an earlier request with the same idempotency key.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Handlers' writes, answered as responses.
pub trait Respond {
    /// Runs `work` as one idempotent, audited transaction and answers with `status` and its result.
    fn mutate<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        status: StatusCode,
        work: F,
    ) -> impl Future<Output = ApiResult<Response>> + Send
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, T> + Send + 'static;

    /// As [`Respond::mutate`], but what is stored for replays passes through `redact` first.
    fn mutate_redacted<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        status: StatusCode,
        redact: fn(&mut serde_json::Value),
        work: F,
    ) -> impl Future<Output = ApiResult<Response>> + Send
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, T> + Send + 'static;

    /// As [`Respond::mutate`], for changes whose status depends on what they found.
    fn mutate_answering<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        redact: fn(&mut serde_json::Value),
        work: F,
    ) -> impl Future<Output = ApiResult<Response>> + Send
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, (StatusCode, T)> + Send + 'static;
}

impl Respond for AppState {
    async fn mutate<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        status: StatusCode,
        work: F,
    ) -> ApiResult<Response>
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, T> + Send + 'static,
    {
        self.mutate_redacted(caller, meta, status, |_| {}, work)
            .await
    }

    async fn mutate_redacted<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        status: StatusCode,
        redact: fn(&mut serde_json::Value),
        work: F,
    ) -> ApiResult<Response>
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, T> + Send + 'static,
    {
        self.mutate_answering(caller, meta, redact, move |m| {
            let done = work(m);
            Box::pin(async move { done.await.map(|value| (status, value)) })
        })
        .await
    }

    async fn mutate_answering<T, F>(
        &self,
        caller: &Principal,
        meta: &WriteMeta,
        redact: fn(&mut serde_json::Value),
        work: F,
    ) -> ApiResult<Response>
    where
        T: Serialize + Send + 'static,
        F: for<'a> FnOnce(&'a mut Mutation) -> Work<'a, (StatusCode, T)> + Send + 'static,
    {
        Ok(respond(self.write(caller, meta, redact, work).await?))
    }
}

/// A written answer as a response; serialised here, off the writer lane's thread, which every
/// write waits for.
pub fn respond<T: Serialize>(written: Written<T>) -> Response {
    match written {
        Written::Fresh(status, value) => (status, Json(value)).into_response(),
        Written::Kept(status, body) => (status, Json(body)).into_response(),
        Written::Replayed(status, body) => {
            let mut response = (status, Json(body)).into_response();
            response
                .headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            response
        }
    }
}
