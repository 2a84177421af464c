//! The error catalogue: every failure a client can see has a stable `code` and an HTTP status;
//! the HTTP layer renders it as a problem+json body (RFC 9457). Server faults never carry
//! internal text: the cause is kept for the log, never sent.

use http::StatusCode;
use huiyuan_domain::auth::Denied;
use huiyuan_domain::validation::{FieldError, FieldErrors};
use huiyuan_store::StoreError;

/// Stable machine codes. Adding one is fine; renaming one breaks clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidJson,
    ValidationFailed,
    Unauthenticated,
    InvalidCredentials,
    PermissionDenied,
    OutOfScope,
    NotFound,
    MethodNotAllowed,
    Conflict,
    IdempotencyKeyReused,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    Internal,
    Unavailable,
    CouponNotApplicable,
    CouponAlreadyUsed,
    QuotaExhausted,
    InsufficientPoints,
    OutOfStock,
    LimitReached,
    NotEligible,
    SettlementClosed,
    CouponReserved,
    CheckoutExpired,
    CheckoutClosed,
}

impl ErrorCode {
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::InvalidJson,
        ErrorCode::ValidationFailed,
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::PermissionDenied,
        ErrorCode::OutOfScope,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::IdempotencyKeyReused,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::CouponNotApplicable,
        ErrorCode::CouponAlreadyUsed,
        ErrorCode::QuotaExhausted,
        ErrorCode::InsufficientPoints,
        ErrorCode::OutOfStock,
        ErrorCode::LimitReached,
        ErrorCode::NotEligible,
        ErrorCode::SettlementClosed,
        ErrorCode::CouponReserved,
        ErrorCode::CheckoutExpired,
        ErrorCode::CheckoutClosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::Unauthenticated => "unauthenticated",
            ErrorCode::InvalidCredentials => "invalid_credentials",
            ErrorCode::PermissionDenied => "permission_denied",
            ErrorCode::OutOfScope => "out_of_scope",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IdempotencyKeyReused => "idempotency_key_reused",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::CouponNotApplicable => "coupon_not_applicable",
            ErrorCode::CouponAlreadyUsed => "coupon_already_used",
            ErrorCode::QuotaExhausted => "quota_exhausted",
            ErrorCode::InsufficientPoints => "insufficient_points",
            ErrorCode::OutOfStock => "out_of_stock",
            ErrorCode::LimitReached => "limit_reached",
            ErrorCode::NotEligible => "not_eligible",
            ErrorCode::SettlementClosed => "settlement_closed",
            ErrorCode::CouponReserved => "coupon_reserved",
            ErrorCode::CheckoutExpired => "checkout_expired",
            ErrorCode::CheckoutClosed => "checkout_closed",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidJson => StatusCode::BAD_REQUEST,
            ErrorCode::ValidationFailed
            | ErrorCode::IdempotencyKeyReused
            | ErrorCode::CouponNotApplicable
            | ErrorCode::InsufficientPoints
            | ErrorCode::NotEligible => StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials => StatusCode::UNAUTHORIZED,
            ErrorCode::PermissionDenied | ErrorCode::OutOfScope => StatusCode::FORBIDDEN,
            ErrorCode::NotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::Conflict
            | ErrorCode::CouponAlreadyUsed
            | ErrorCode::QuotaExhausted
            | ErrorCode::OutOfStock
            | ErrorCode::LimitReached
            | ErrorCode::SettlementClosed
            | ErrorCode::CouponReserved
            | ErrorCode::CheckoutExpired
            | ErrorCode::CheckoutClosed => StatusCode::CONFLICT,
            ErrorCode::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "The request body is not valid JSON for this endpoint",
            ErrorCode::ValidationFailed => "Some fields are invalid",
            ErrorCode::Unauthenticated => "A valid bearer token is required",
            ErrorCode::InvalidCredentials => "Username or password is wrong",
            ErrorCode::PermissionDenied => "The caller lacks a permission this call needs",
            ErrorCode::OutOfScope => "The target lies outside the caller's data scope",
            ErrorCode::NotFound => "No such resource",
            ErrorCode::MethodNotAllowed => "Method not allowed on this resource",
            ErrorCode::Conflict => "The request conflicts with existing data",
            ErrorCode::IdempotencyKeyReused => {
                "The idempotency key was used for a different request"
            }
            ErrorCode::PayloadTooLarge => "The request body is too large",
            ErrorCode::UnsupportedMediaType => "The request body must be application/json",
            ErrorCode::RateLimited => "Too many attempts; try again later",
            ErrorCode::Internal => "Internal server error",
            ErrorCode::Unavailable => "The service is temporarily unavailable",
            ErrorCode::CouponNotApplicable => {
                "The coupon does not apply here; `errors[0].code` says why"
            }
            ErrorCode::CouponAlreadyUsed => "The coupon has already been redeemed",
            ErrorCode::QuotaExhausted => "The template's issue quota is used up",
            ErrorCode::InsufficientPoints => "The member has too few usable points",
            ErrorCode::OutOfStock => "Not enough stock is left",
            ErrorCode::LimitReached => "The member has reached the limit for this item",
            ErrorCode::NotEligible => "The member may not redeem this item now",
            ErrorCode::SettlementClosed => {
                "A closed statement is immutable and its period is settled; `errors[0].code` says which"
            }
            ErrorCode::CouponReserved => "The coupon is held by a checkout in progress",
            ErrorCode::CheckoutExpired => "The checkout's reservation has expired",
            ErrorCode::CheckoutClosed => {
                "The checkout was already confirmed, cancelled or released"
            }
        }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub detail: Option<String>,
    pub errors: Vec<FieldError>,
    /// Seconds to wait, for rate limiting.
    pub retry_after_secs: Option<u64>,
    /// The internal cause of a server fault: logged, never sent.
    pub cause: Option<String>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self {
            code,
            detail: None,
            errors: Vec::new(),
            retry_after_secs: None,
            cause: None,
        }
    }

    pub fn with_detail(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            detail: Some(detail.into()),
            ..Self::new(code)
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::with_detail(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// A 409 naming the field whose value is taken.
    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            errors: vec![FieldError::new(field, "already_exists", message.clone())],
            ..Self::with_detail(ErrorCode::Conflict, message)
        }
    }

    pub fn invalid_field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        FieldErrors::single(FieldError::new(field, code, message)).into()
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            cause: Some(cause.to_string()),
            ..Self::new(ErrorCode::Internal)
        }
    }
}

impl From<FieldErrors> for ApiError {
    fn from(errors: FieldErrors) -> Self {
        Self {
            errors: errors.0,
            ..Self::new(ErrorCode::ValidationFailed)
        }
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        FieldErrors::single(error).into()
    }
}

impl From<Denied> for ApiError {
    fn from(denied: Denied) -> Self {
        match denied {
            Denied::MissingPermission(permission) => Self::with_detail(
                ErrorCode::PermissionDenied,
                format!("this call needs the permission '{}'", permission.as_str()),
            ),
            Denied::OutOfScope => Self::new(ErrorCode::OutOfScope),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match &error {
            // An unanticipated unique violation: a race the handler did not name.
            StoreError::Conflict { .. } => Self {
                cause: Some(error.to_string()),
                ..Self::new(ErrorCode::Conflict)
            },
            StoreError::Retry => Self {
                cause: Some(error.to_string()),
                ..Self::with_detail(
                    ErrorCode::Conflict,
                    "a concurrent change got in the way; retry",
                )
            },
            StoreError::MissingReference => Self::with_detail(
                ErrorCode::ValidationFailed,
                "a referenced record does not exist",
            ),
            _ if error.is_unavailable() => Self {
                cause: Some(error.to_string()),
                ..Self::new(ErrorCode::Unavailable)
            },
            _ => Self::internal(error),
        }
    }
}
