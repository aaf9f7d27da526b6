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
use pyo3::types::PyBytes;
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

/// Buffer formats whose items are single unsigned octets.
const BYTE_FORMATS: [&[u8]; 2] = [b"B", b"c"];

/// The octets of a non-`bytes` buffer; TypeError (the same text as the reference
/// backend's) for an object without a buffer or with items that are not octets.
fn copy_buffer(obj: &Bound<'_, PyAny>) -> PyResult<Zeroizing<Vec<u8>>> {
    let type_name = || {
        obj.get_type()
            .name()
            .map_or_else(|_| "?".to_owned(), |n| n.to_string())
    };
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

/// Slices of a list of bytes-like arguments.
pub(crate) fn slices<'a>(items: &'a [Bytes<'_>]) -> Vec<&'a [u8]> {
    items.iter().map(|b| &**b).collect()
}
