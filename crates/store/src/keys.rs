//! Re-sealing personal data after a key rotation.
