// SPDX-License-Identifier: Apache-2.0
//! The one mapping from `pqike_core::error::Error` to Python exceptions.
//!
//! The exception classes are defined only in `python/pqike/errors.py`; they are imported by
//! name here. Orphan rules forbid `impl From<pqike_core::error::Error> for PyErr` in this
//! crate, so core errors pass through the [`CoreError`] newtype: a `#[pyfunction]` may
//! return `Result<T, CoreError>` and use `?` on core results, or call [`to_pyerr`] in a
//! `map_err` where it mixes core and PyO3 errors.

use pqike_core::error::{
    Error, TRANSFORM_TYPE_ENCR, TRANSFORM_TYPE_INTEG, TRANSFORM_TYPE_KE, TRANSFORM_TYPE_PRF,
};
use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyBool;

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
            // pqike.errors words the default text, as for the reference backend.
            Error::UnsupportedTransform { transform_type, id } => {
                UnsupportedTransform::new_err((transform_type, id))
            }
            Error::InvalidKeyExchangeLength { .. } | Error::InvalidKeyExchangeData { .. } => {
                InvalidKeyExchangeData::new_err(message)
            }
            // No detail on purpose: which check failed is not the caller's business. The
            // class gives its fixed text (AuthenticationError.MESSAGE).
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

// ---------------------------------------------------------------------------------------
// Integer arguments: PyO3's own conversions raise OverflowError for a Python int outside
// the Rust type's range (a negative length, spi 2^32, next_header 256, method 70000). These
// newtypes raise the precise class instead; PyO3 passes non-TypeError extraction errors
// through unchanged, so the class reaches Python as is.
// ---------------------------------------------------------------------------------------

/// Whether `e` is PyO3's range failure (OverflowError), as opposed to a wrong type.
fn is_overflow(py: Python<'_>, e: &PyErr) -> bool {
    e.is_instance_of::<PyOverflowError>(py)
}

/// `obj` as the integer type `T`, except that a bool is a TypeError (contracts.md §2:
/// `True` is not transform ID 1, nor a length of 1). A float or str is a TypeError as
/// PyO3 raises it; a Python int outside `T` is PyO3's OverflowError.
fn extract_int<'a, 'py, T>(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<T>
where
    T: FromPyObject<'a, 'py, Error = PyErr>,
{
    if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "'bool' object cannot be interpreted as an integer",
        ));
    }
    obj.extract::<T>()
}

/// An IANA transform ID of transform type `TYPE` (1 ENCR, 2 PRF, 3 INTEG, 4 KE): a Python
/// int outside `0..=65535` raises `UnsupportedTransform(TYPE, id)`, like an unknown ID.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TransformId<const TYPE: u8>(pub(crate) u16);

/// ENCR transform ID argument (type 1).
#[allow(dead_code)] // for aead.rs / esp.rs / keymat.rs
pub(crate) type EncrId = TransformId<{ TRANSFORM_TYPE_ENCR }>;
/// PRF transform ID argument (type 2).
pub(crate) type PrfId = TransformId<{ TRANSFORM_TYPE_PRF }>;
/// INTEG transform ID argument (type 3).
pub(crate) type IntegId = TransformId<{ TRANSFORM_TYPE_INTEG }>;
/// KE method argument (type 4).
pub(crate) type KeId = TransformId<{ TRANSFORM_TYPE_KE }>;

impl<'py, const TYPE: u8> FromPyObject<'_, 'py> for TransformId<TYPE> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        match extract_int::<u16>(obj) {
            Ok(id) => Ok(Self(id)),
            Err(e) if is_overflow(obj.py(), &e) => Err(UnsupportedTransform::new_err((
                TYPE,
                obj.to_owned().unbind(),
            ))),
            Err(e) => Err(e),
        }
    }
}

/// A length in octets: a negative or too large Python int raises `InvalidLength`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Length(pub(crate) usize);

impl<'py> FromPyObject<'_, 'py> for Length {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        match extract_int::<usize>(obj) {
            Ok(n) => Ok(Self(n)),
            Err(e) if is_overflow(obj.py(), &e) => Err(InvalidLength::new_err(format!(
                "a length must be an integer in [0, {}], got {}",
                usize::MAX,
                obj.to_owned()
            ))),
            Err(e) => Err(e),
        }
    }
}

/// An unsigned protocol field (`u8` next header, `u32` SPI or window, `u64` sequence
/// number): a Python int outside the field raises `ValueError` naming the range.
#[allow(dead_code)] // for esp.rs (spi, next_header, window, initial_seq); see issue #2
#[derive(Clone, Copy, Debug)]
pub(crate) struct Field<T>(pub(crate) T);

macro_rules! field_from_py {
    ($($t:ty),*) => {$(
        impl<'py> FromPyObject<'_, 'py> for Field<$t> {
            type Error = PyErr;

            fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
                match extract_int::<$t>(obj) {
                    Ok(v) => Ok(Self(v)),
                    Err(e) if is_overflow(obj.py(), &e) => Err(PyValueError::new_err(format!(
                        "{} is outside the {}-bit field [0, {}]",
                        obj.to_owned(),
                        <$t>::BITS,
                        <$t>::MAX
                    ))),
                    Err(e) => Err(e),
                }
            }
        }
    )*};
}

field_from_py!(u8, u16, u32, u64);

/// An integer argument with a contract of its own (ESP SPI 1..=2^32-1, a replay window,
/// a Key Length attribute that depends on the ENCR ID): a Python int that does not fit `T`,
/// or fits but fails `valid`, raises `err(obj)`; a non-int raises TypeError as usual. Call
/// it from a `#[pyo3(from_py_with = ...)]` function or on a `&Bound<PyAny>` argument.
pub(crate) fn checked_int<'a, 'py, T>(
    obj: &'a Bound<'py, PyAny>,
    valid: impl FnOnce(&T) -> bool,
    err: impl FnOnce(&Bound<'py, PyAny>) -> PyErr,
) -> PyResult<T>
where
    T: FromPyObject<'a, 'py, Error = PyErr>,
{
    match extract_int::<T>(obj.as_borrowed()) {
        Ok(v) if valid(&v) => Ok(v),
        Ok(_) => Err(err(obj)),
        Err(e) if is_overflow(obj.py(), &e) => Err(err(obj)),
        Err(e) => Err(e),
    }
}

/// Nothing to add to the module: the classes live in `pqike.errors`.
pub(crate) fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
