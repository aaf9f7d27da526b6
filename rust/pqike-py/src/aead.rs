// SPDX-License-Identifier: Apache-2.0
//! `pqike._native.aead`: IKE SK payload ciphers and the raw AEADs (for known-answer tests).
use pqike_core::aead::{self, SALT_LEN};
use pqike_core::error::{Error, TRANSFORM_TYPE_ENCR, TRANSFORM_TYPE_INTEG};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::Bytes;
use crate::errors::{
    checked_int, to_pyerr, CoreError, EncrId, IntegId, InvalidLength, UnsupportedTransform,
};

/// Largest `plaintext_len` of `sealed_length`: a whole IKE message, header included, is at
/// most 2^32 - 1 octets (RFC 7296 §3.1, the 4-octet Length field).
const MAX_SK_PLAINTEXT: usize = u32::MAX as usize;

fn plaintext_len(obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    checked_int(
        obj,
        |&n: &usize| n <= MAX_SK_PLAINTEXT,
        |obj| {
            InvalidLength::new_err(format!(
                "plaintext length must be 0..={MAX_SK_PLAINTEXT} octets (an IKE message is \
                 at most 2^32-1), got {obj}"
            ))
        },
    )
}

/// The Key Length attribute for `encr_id`, the argument `name`: an int outside 0..=65535
/// raises `UnsupportedTransform(1, encr_id)`, as a size in range that the transform does
/// not allow. It is read in the function body (it depends on `encr_id`), so a TypeError
/// gets here the note PyO3 adds to its own argument errors (contracts.md §2).
pub(crate) fn key_bits(encr_id: u16, obj: &Bound<'_, PyAny>, name: &str) -> PyResult<u16> {
    checked_int(obj, |_: &u16| true, |obj| bad_key_bits(encr_id, obj)).inspect_err(|e| {
        let py = obj.py();
        if e.is_instance_of::<PyTypeError>(py) {
            // Adding a note fails only if the exception object is broken: keep it as is.
            let _ = e.add_note(py, format!("while processing '{name}'"));
        }
    })
}

/// Key Length attributes an ENCR transform allows (empty for an unknown ID).
fn allowed_key_bits(encr_id: u16) -> Vec<u16> {
    [0, 128, 192, 256]
        .into_iter()
        .filter(|&bits| aead::encr_key_length(encr_id, bits).is_ok())
        .collect()
}

/// `UnsupportedTransform(1, encr_id)` naming the Key Length `bits` that ENCR `encr_id`
/// does not allow, and the ones it does (the text of `pqike.crypto.suites`).
fn bad_key_bits(encr_id: u16, bits: impl std::fmt::Display) -> PyErr {
    let allowed = allowed_key_bits(encr_id);
    let hint = if allowed.is_empty() {
        String::new()
    } else {
        format!(
            " (Key Length {})",
            one_of(allowed.iter().map(|&b| usize::from(b)))
        )
    };
    UnsupportedTransform::new_err((
        TRANSFORM_TYPE_ENCR,
        encr_id,
        format!("ENCR {encr_id} does not allow a {bits}-bit key{hint}"),
    ))
}

/// Maps a core error of a call that took (`encr_id`, `key_bits`, `integ_id`) to the text
/// the reference backend gives (`pqike.crypto.reference`): the core reports a Key Length
/// its ENCR does not allow as a bare `UnsupportedTransform(1, encr_id)`, which would name
/// the transform, not the length, and an INTEG transform that does not go with the ENCR
/// (one next to an AEAD, none next to AES-CBC) as a bare `UnsupportedTransform(3,
/// integ_id)`, which reads as if that INTEG ID were unknown.
pub(crate) fn suite_error(e: Error, encr_id: u16, key_bits: u16, integ_id: u16) -> PyErr {
    match e {
        Error::UnsupportedTransform {
            transform_type: TRANSFORM_TYPE_ENCR,
            id,
        } if id == encr_id
            && aead::encr_key_length(encr_id, key_bits).is_err()
            && !allowed_key_bits(encr_id).is_empty() =>
        {
            bad_key_bits(encr_id, key_bits)
        }
        Error::UnsupportedTransform {
            transform_type: TRANSFORM_TYPE_INTEG,
            id,
        } if id == integ_id => {
            let aead = aead::is_aead(encr_id);
            let message = if aead && integ_id != aead::INTEG_NONE {
                "an AEAD ENCR takes no INTEG transform".to_owned()
            } else if !aead && integ_id == aead::INTEG_NONE {
                format!("ENCR {encr_id} needs an INTEG transform")
            } else {
                return to_pyerr(e);
            };
            UnsupportedTransform::new_err((TRANSFORM_TYPE_INTEG, integ_id, message))
        }
        e => to_pyerr(e),
    }
}

/// Name and key lengths (without the salt) of an AEAD ENCR transform.
const fn aead_keys(encr_id: u16) -> Option<(&'static str, &'static [usize])> {
    match encr_id {
        aead::ENCR_AES_GCM_8 => Some(("AES-GCM-8", &[16, 24, 32])),
        aead::ENCR_AES_GCM_12 => Some(("AES-GCM-12", &[16, 24, 32])),
        aead::ENCR_AES_GCM_16 => Some(("AES-GCM-16", &[16, 24, 32])),
        aead::ENCR_CHACHA20_POLY1305 => Some(("ChaCha20-Poly1305", &[32])),
        _ => None,
    }
}

/// "16, 24 or 32".
fn one_of(lengths: impl ExactSizeIterator<Item = usize>) -> String {
    let n = lengths.len();
    let mut text = String::new();
    for (i, len) in lengths.enumerate() {
        if i > 0 {
            text.push_str(if i + 1 == n { " or " } else { ", " });
        }
        text.push_str(&len.to_string());
    }
    text
}

/// InvalidLength naming every allowed length when `key_len` fits no key size of the AEAD
/// `encr_id` (`esp`: with the 4-octet salt). Other IDs are left to the core, which raises
/// UnsupportedTransform for them.
pub(crate) fn check_aead_key(encr_id: u16, key_len: usize, esp: bool) -> PyResult<()> {
    let Some((name, lengths)) = aead_keys(encr_id) else {
        return Ok(());
    };
    let salt = if esp { SALT_LEN } else { 0 };
    if lengths.iter().any(|&n| n + salt == key_len) {
        return Ok(());
    }
    let keys = one_of(lengths.iter().copied());
    Err(InvalidLength::new_err(if esp {
        let salted = one_of(lengths.iter().map(|&n| n + SALT_LEN));
        format!(
            "{name} ESP key is {keys} bytes plus a {SALT_LEN}-byte salt ({salted}), got {key_len}"
        )
    } else {
        format!("{name} key is {keys} bytes (a raw AEAD key, without the salt), got {key_len}")
    }))
}

/// One direction of IKE SK payload protection (RFC 7296 §3.14, RFC 5282, RFC 7634).
#[pyclass(module = "pqike._native.aead", name = "IkeCipher", frozen)]
pub(crate) struct PyIkeCipher {
    inner: aead::IkeCipher,
}

impl PyIkeCipher {
    pub(crate) const fn from_core(inner: aead::IkeCipher) -> Self {
        Self { inner }
    }
}

#[pymethods]
impl PyIkeCipher {
    #[new]
    #[pyo3(
        signature = (encr_id, key_bits, integ_id, encr_key, integ_key = Bytes::empty()),
        text_signature = "(encr_id, key_bits, integ_id, encr_key, integ_key=b'')"
    )]
    fn new(
        encr_id: EncrId,
        key_bits: &Bound<'_, PyAny>,
        integ_id: IntegId,
        encr_key: Bytes<'_>,
        integ_key: Bytes<'_>,
    ) -> PyResult<Self> {
        let key_bits = self::key_bits(encr_id.0, key_bits, "key_bits")?;
        let inner = aead::IkeCipher::new(encr_id.0, key_bits, integ_id.0, &encr_key, &integ_key)
            .map_err(|e| suite_error(e, encr_id.0, key_bits, integ_id.0))?;
        Ok(Self::from_core(inner))
    }

    /// 8 for the AEADs, 16 for AES-CBC.
    #[getter]
    fn iv_length(&self) -> usize {
        self.inner.iv_len()
    }

    /// ICV length in octets.
    #[getter]
    fn icv_length(&self) -> usize {
        self.inner.icv_len()
    }

    /// ENCR transform ID.
    #[getter]
    fn encr_id(&self) -> u16 {
        self.inner.encr_id()
    }

    /// INTEG transform ID (0 for AEADs).
    #[getter]
    fn integ_id(&self) -> u16 {
        self.inner.integ_id()
    }

    /// len(iv | ciphertext (with padding and pad length) | icv); InvalidLength for a
    /// `plaintext_len` outside 0..=2^32-1.
    fn sealed_length(&self, #[pyo3(from_py_with = plaintext_len)] plaintext_len: usize) -> usize {
        self.inner.sealed_length(plaintext_len)
    }

    /// iv | E(plaintext | padding | pad length) | icv.
    fn seal<'py>(
        &self,
        py: Python<'py>,
        aad: Bytes<'py>,
        iv: Bytes<'py>,
        plaintext: Bytes<'py>,
    ) -> Result<Bound<'py, PyBytes>, CoreError> {
        Ok(PyBytes::new(py, &self.inner.seal(&aad, &iv, &plaintext)?))
    }

    /// body = iv | ciphertext | icv -> inner payloads.
    fn open<'py>(
        &self,
        py: Python<'py>,
        aad: Bytes<'py>,
        body: Bytes<'py>,
    ) -> Result<Bound<'py, PyBytes>, CoreError> {
        Ok(PyBytes::new(py, &self.inner.open(&aad, &body)?))
    }

    fn __repr__(&self) -> String {
        format!(
            "IkeCipher(encr_id={}, key_bits={}, integ_id={})",
            self.inner.encr_id(),
            self.inner.key_bits(),
            self.inner.integ_id()
        )
    }
}

/// Raw AEAD seal (key without salt, 12-octet nonce) -> ciphertext | tag.
#[pyfunction]
fn aead_seal<'py>(
    py: Python<'py>,
    encr_id: EncrId,
    key: Bytes<'py>,
    nonce: Bytes<'py>,
    aad: Bytes<'py>,
    plaintext: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    check_aead_key(encr_id.0, key.len(), false)?;
    let out = aead::aead_seal(encr_id.0, &key, &nonce, &aad, &plaintext).map_err(CoreError)?;
    Ok(PyBytes::new(py, &out))
}

/// Raw AEAD open (key without salt, 12-octet nonce) of ciphertext | tag.
#[pyfunction]
fn aead_open<'py>(
    py: Python<'py>,
    encr_id: EncrId,
    key: Bytes<'py>,
    nonce: Bytes<'py>,
    aad: Bytes<'py>,
    ct_and_tag: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    check_aead_key(encr_id.0, key.len(), false)?;
    let out = aead::aead_open(encr_id.0, &key, &nonce, &aad, &ct_and_tag).map_err(CoreError)?;
    Ok(PyBytes::new(py, &out))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIkeCipher>()?;
    m.add_function(wrap_pyfunction!(aead_seal, m)?)?;
    m.add_function(wrap_pyfunction!(aead_open, m)?)?;
    Ok(())
}
