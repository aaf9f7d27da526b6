// SPDX-License-Identifier: Apache-2.0
//! Bytes-like arguments (docs/contracts.md §2, "Argument types").
//!
//! Every byte-string argument of `pqike._native` takes `bytes` or any other object that
//! exports a buffer of unsigned bytes (`bytearray`, `memoryview`, `array.array('B')`), the
//! same rule as the reference backend (`pqike.crypto._args.byteslike`). `bytes` is
//! immutable and is borrowed as is, so the hot path costs what PyO3's `&[u8]` does; other
//! buffers may be mutable and are copied (into memory that is wiped when dropped), so no
//! Python-owned memory is read while the GIL is released.

use std::ops::Deref;

use pyo3::buffer::{PyBuffer, PyUntypedBuffer};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PySequence, PyString};
use zeroize::Zeroizing;

/// A bytes-like argument; dereferences to its octets.
pub(crate) enum Bytes<'py> {
    /// A `bytes` object (or subclass), read in place.
    Object(Bound<'py, PyBytes>),
    /// A copy of another buffer's octets, zeroized on drop.
    Copied(Zeroizing<Vec<u8>>),
}

impl Bytes<'_> {
    /// `b""`, for argument defaults.
    pub(crate) fn empty() -> Self {
        Self::Copied(Zeroizing::new(Vec::new()))
    }
}

impl Deref for Bytes<'_> {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Self::Object(bytes) => bytes.as_bytes(),
            Self::Copied(copy) => copy,
        }
    }
}

impl<'py> FromPyObject<'_, 'py> for Bytes<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(bytes) = obj.cast::<PyBytes>() {
            return Ok(Self::Object(bytes.to_owned()));
        }
        copy_buffer(&obj).map(Self::Copied)
    }
}

/// The name of `obj`'s type, as Python's `type(obj).__name__` gives it.
fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map_or_else(|_| "?".to_owned(), |n| n.to_string())
}

/// A sequence (list, tuple, any `collections.abc.Sequence` but `str`) of bytes-like
/// arguments: `shared_secrets`, `payloads`, `packets`. PyO3's own `Vec` conversion would
/// raise its internal texts (`Can't extract `str` to `Vec``); this raises the reference
/// backend's (`pqike.crypto._args.byteslike_list`).
pub(crate) struct BytesList<'py>(Vec<Bytes<'py>>);

impl BytesList<'_> {
    /// `[]`, for argument defaults.
    pub(crate) const fn empty() -> Self {
        Self(Vec::new())
    }

    /// The octets of each item.
    pub(crate) fn slices(&self) -> Vec<&[u8]> {
        self.0.iter().map(|b| &**b).collect()
    }
}

impl<'py> FromPyObject<'_, 'py> for BytesList<'py> {
    type Error = PyErr;

    fn extract(obj: Borrowed<'_, 'py, PyAny>) -> PyResult<Self> {
        let obj = obj.to_owned();
        let sequence = match obj.cast::<PySequence>() {
            Ok(sequence) if !obj.is_instance_of::<PyString>() => sequence,
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "expected a sequence of bytes-like objects, got {}",
                    type_name(&obj)
                )))
            }
        };
        let mut items = Vec::with_capacity(sequence.len().unwrap_or(0));
        for item in obj.try_iter()? {
            items.push(item?.extract::<Bytes<'py>>()?);
        }
        Ok(Self(items))
    }
}

/// A flag argument (`esn`, `sender_is_initiator`, `signer_is_initiator`), for
/// `#[pyo3(from_py_with = flag)]`: `bool` only, with the reference backend's text for
/// anything else (`pqike.crypto._args.check_flag`; PyO3's own `bool` conversion words
/// `None` differently).
pub(crate) fn flag(obj: &Bound<'_, PyAny>) -> PyResult<bool> {
    match obj.cast::<PyBool>() {
        Ok(flag) => Ok(flag.is_true()),
        Err(_) => Err(PyTypeError::new_err(format!(
            "'{}' object is not an instance of 'bool'",
            type_name(obj)
        ))),
    }
}

/// Buffer formats whose items are single unsigned octets.
const BYTE_FORMATS: [&[u8]; 2] = [b"B", b"c"];

/// The octets of a non-`bytes` buffer; TypeError (the same text as the reference
/// backend's) for an object without a buffer or with items that are not octets.
fn copy_buffer(obj: &Bound<'_, PyAny>) -> PyResult<Zeroizing<Vec<u8>>> {
    let type_name = || type_name(obj);
    let Ok(buffer) = PyUntypedBuffer::get(obj) else {
        return Err(PyTypeError::new_err(format!(
            "expected a bytes-like object (bytes, bytearray or memoryview), got {}",
            type_name()
        )));
    };
    let format = buffer.format().to_bytes();
    if buffer.item_size() != 1 || !BYTE_FORMATS.contains(&format) {
        return Err(PyTypeError::new_err(format!(
            "expected a buffer of unsigned bytes (format 'B'), got {} of format '{}'",
            type_name(),
            String::from_utf8_lossy(format)
        )));
    }
    let buffer: PyBuffer<u8> = buffer.into_typed()?;
    Ok(Zeroizing::new(buffer.to_vec(obj.py())?))
}
