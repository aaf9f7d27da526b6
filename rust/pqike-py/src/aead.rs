// SPDX-License-Identifier: Apache-2.0
//! `pqike._native.aead`: IKE SK payload ciphers and the raw AEADs (for known-answer tests).
use pqike_core::aead;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::errors::CoreError;

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
        signature = (encr_id, key_bits, integ_id, encr_key, integ_key = b"".as_slice()),
        text_signature = "(encr_id, key_bits, integ_id, encr_key, integ_key=b'')"
    )]
    fn new(
        encr_id: u16,
        key_bits: u16,
        integ_id: u16,
        encr_key: &[u8],
        integ_key: &[u8],
    ) -> Result<Self, CoreError> {
        Ok(Self::from_core(aead::IkeCipher::new(
            encr_id, key_bits, integ_id, encr_key, integ_key,
        )?))
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

    /// len(iv | ciphertext (with padding and pad length) | icv).
    fn sealed_length(&self, plaintext_len: usize) -> usize {
        self.inner.sealed_length(plaintext_len)
    }

    /// iv | E(plaintext | padding | pad length) | icv.
    fn seal<'py>(
        &self,
        py: Python<'py>,
        aad: &[u8],
        iv: &[u8],
        plaintext: &[u8],
    ) -> Result<Bound<'py, PyBytes>, CoreError> {
        Ok(PyBytes::new(py, &self.inner.seal(aad, iv, plaintext)?))
    }

    /// body = iv | ciphertext | icv -> inner payloads.
    fn open<'py>(
        &self,
        py: Python<'py>,
        aad: &[u8],
        body: &[u8],
    ) -> Result<Bound<'py, PyBytes>, CoreError> {
        Ok(PyBytes::new(py, &self.inner.open(aad, body)?))
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
    encr_id: u16,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Bound<'py, PyBytes>, CoreError> {
    Ok(PyBytes::new(
        py,
        &aead::aead_seal(encr_id, key, nonce, aad, plaintext)?,
    ))
}

/// Raw AEAD open (key without salt, 12-octet nonce) of ciphertext | tag.
#[pyfunction]
fn aead_open<'py>(
    py: Python<'py>,
    encr_id: u16,
    key: &[u8],
    nonce: &[u8],
    aad: &[u8],
    ct_and_tag: &[u8],
) -> Result<Bound<'py, PyBytes>, CoreError> {
    Ok(PyBytes::new(
        py,
        &aead::aead_open(encr_id, key, nonce, aad, ct_and_tag)?,
    ))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyIkeCipher>()?;
    m.add_function(wrap_pyfunction!(aead_seal, m)?)?;
    m.add_function(wrap_pyfunction!(aead_open, m)?)?;
    Ok(())
}
