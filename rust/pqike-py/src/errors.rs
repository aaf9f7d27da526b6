// SPDX-License-Identifier: Apache-2.0
//! The one mapping from `pqike_core::error::Error` to Python exceptions.
//!
//! The exception classes are defined only in `python/pqike/errors.py`; they are imported by
//! name here. Orphan rules forbid `impl From<pqike_core::error::Error> for PyErr` in this
//! crate, so core errors pass through the [`CoreError`] newtype: a `#[pyfunction]` may
//! return `Result<T, CoreError>` and use `?` on core results, or call [`to_pyerr`] in a
//! `map_err` where it mixes core and PyO3 errors.

use pqike_core::error::Error;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

pyo3::import_exception!(pqike.errors, PqIkeError);
pyo3::import_exception!(pqike.errors, UnsupportedTransform);
pyo3::import_exception!(pqike.errors, AuthenticationError);
pyo3::import_exception!(pqike.errors, InvalidKeyExchangeData);
pyo3::import_exception!(pqike.errors, InvalidLength);
pyo3::import_exception!(pqike.errors, ReplayError);
pyo3::import_exception!(pqike.errors, SequenceExhausted);
pyo3::import_exception!(pqike.errors, DecodeError);

/// A core error on its way to Python.
#[derive(Debug)]
pub(crate) struct CoreError(pub(crate) Error);

impl From<Error> for CoreError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

impl From<CoreError> for PyErr {
    fn from(CoreError(e): CoreError) -> Self {
        let message = e.to_string();
        match e {
            Error::InvalidLength { .. }
            | Error::LengthOutOfRange { .. }
            | Error::PrfPlusTooLong { .. } => InvalidLength::new_err(message),
            Error::UnsupportedTransform { transform_type, id } => {
                UnsupportedTransform::new_err((transform_type, id, message))
            }
            Error::InvalidKeyExchangeLength { .. } | Error::InvalidKeyExchangeData { .. } => {
                InvalidKeyExchangeData::new_err(message)
            }
            // No detail on purpose: which check failed is not the caller's business.
            Error::AuthenticationFailed => AuthenticationError::new_err(()),
            Error::Replay => ReplayError::new_err(message),
            Error::SequenceExhausted => SequenceExhausted::new_err(message),
            Error::Decode(_) => DecodeError::new_err(message),
            // Misuse of the API (contracts.md: ValueError).
            Error::InvalidArgument(_) | Error::InvalidState(_) => PyValueError::new_err(message),
            _ => PqIkeError::new_err(message),
        }
    }
}

/// Converts a core error into the matching `pqike.errors` exception.
pub(crate) fn to_pyerr(e: Error) -> PyErr {
    CoreError(e).into()
}

/// Converts a Python-side transform ID to `u16`, raising `UnsupportedTransform` (rather
/// than `OverflowError`) for a number outside the IANA ID space.
pub(crate) fn transform_id(transform_type: u8, id: i64) -> PyResult<u16> {
    u16::try_from(id).map_err(|_| {
        UnsupportedTransform::new_err((
            transform_type,
            id,
            format!("unsupported transform type {transform_type} id {id}"),
        ))
    })
}

/// Nothing to add to the module: the classes live in `pqike.errors`.
pub(crate) fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
