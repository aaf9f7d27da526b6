// SPDX-License-Identifier: Apache-2.0
//! `pqike._native.keymat`: the IKEv2 key schedule of one IKE SA generation.
use pqike_core::keymat;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::aead::{key_bits, suite_error, PyIkeCipher};
use crate::args::{flag, Bytes, BytesList};
use crate::errors::{CoreError, EncrId, IntegId, Length, PrfId};

/// The secrets of one IKE SA generation; frozen and opaque (`repr` shows transforms only).
#[pyclass(module = "pqike._native.keymat", name = "Keymat", frozen)]
pub(crate) struct PyKeymat {
    inner: keymat::Keymat,
}

#[pymethods]
impl PyKeymat {
    /// RFC 7296 §2.14: SKEYSEED = prf(Ni | Nr, g^ir), SK_* = prf+(SKEYSEED, Ni | Nr | SPIi | SPIr).
    #[staticmethod]
    #[allow(clippy::too_many_arguments)]
    fn derive(
        prf_id: PrfId,
        encr_id: EncrId,
        encr_key_bits: &Bound<'_, PyAny>,
        integ_id: IntegId,
        shared_secret: Bytes<'_>,
        ni: Bytes<'_>,
        nr: Bytes<'_>,
        spi_i: Bytes<'_>,
        spi_r: Bytes<'_>,
    ) -> PyResult<Self> {
        let encr_key_bits = key_bits(encr_id.0, encr_key_bits, "encr_key_bits")?;
        let inner = keymat::Keymat::derive(
            prf_id.0,
            encr_id.0,
            encr_key_bits,
            integ_id.0,
            &shared_secret,
            &ni,
            &nr,
            &spi_i,
            &spi_r,
        )
        .map_err(|e| suite_error(e, encr_id.0, encr_key_bits, integ_id.0))?;
        Ok(Self { inner })
    }

    /// RFC 9370 §2.2.2: the keys after one more IKE_INTERMEDIATE key exchange.
    fn update_after_ke(&self, shared_secret: Bytes<'_>) -> Result<Self, CoreError> {
        Ok(Self {
            inner: self.inner.update_after_ke(&shared_secret)?,
        })
    }

    /// RFC 7296 §2.18 + RFC 9370 §2.2.4: the keys of the IKE SA that replaces this one.
    #[allow(clippy::too_many_arguments)]
    fn rekey_ike(
        &self,
        shared_secrets: BytesList<'_>,
        ni: Bytes<'_>,
        nr: Bytes<'_>,
        spi_i: Bytes<'_>,
        spi_r: Bytes<'_>,
        prf_id: PrfId,
        encr_id: EncrId,
        encr_key_bits: &Bound<'_, PyAny>,
        integ_id: IntegId,
    ) -> PyResult<Self> {
        let encr_key_bits = key_bits(encr_id.0, encr_key_bits, "encr_key_bits")?;
        let secrets = shared_secrets.slices();
        let inner = self
            .inner
            .rekey_ike(
                &secrets,
                &ni,
                &nr,
                &spi_i,
                &spi_r,
                prf_id.0,
                encr_id.0,
                encr_key_bits,
                integ_id.0,
            )
            .map_err(|e| suite_error(e, encr_id.0, encr_key_bits, integ_id.0))?;
        Ok(Self { inner })
    }

    /// RFC 7296 §2.17 / RFC 9370: prf+(SK_d, [SK(0) |] Ni | Nr [| SK(1) ...]).
    #[pyo3(signature = (length, ni, nr, shared_secrets = BytesList::empty()))]
    fn child_keymat<'py>(
        &self,
        py: Python<'py>,
        length: Length,
        ni: Bytes<'py>,
        nr: Bytes<'py>,
        shared_secrets: BytesList<'py>,
    ) -> Result<Bound<'py, PyBytes>, CoreError> {
        let secrets = shared_secrets.slices();
        let keymat = self.inner.child_keymat(length.0, &ni, &nr, &secrets)?;
        Ok(PyBytes::new(py, keymat.as_bytes()))
    }

    /// The IkeCipher for messages sent by the initiator (SK_ei/SK_ai) or the responder.
    fn cipher(
        &self,
        #[pyo3(from_py_with = flag)] sender_is_initiator: bool,
    ) -> Result<PyIkeCipher, CoreError> {
        Ok(PyIkeCipher::from_core(
            self.inner.cipher(sender_is_initiator)?,
        ))
    }

    /// RFC 9242 §3.3.2: prf(SK_pi or SK_pr, prev | A | P).
    fn int_auth<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = flag)] sender_is_initiator: bool,
        prev: Bytes<'py>,
        a: Bytes<'py>,
        p: Bytes<'py>,
    ) -> Bound<'py, PyBytes> {
        PyBytes::new(
            py,
            self.inner
                .int_auth(sender_is_initiator, &prev, &a, &p)
                .as_bytes(),
        )
    }

    /// RFC 7296 §2.15: prf(prf(PSK, "Key Pad for IKEv2"), signed octets).
    #[pyo3(
        signature = (signer_is_initiator, psk, real_message, peer_nonce, id_body, int_auth = Bytes::empty()),
        text_signature = "(self, /, signer_is_initiator, psk, real_message, peer_nonce, id_body, int_auth=b'')"
    )]
    #[allow(clippy::too_many_arguments)]
    fn psk_auth<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = flag)] signer_is_initiator: bool,
        psk: Bytes<'py>,
        real_message: Bytes<'py>,
        peer_nonce: Bytes<'py>,
        id_body: Bytes<'py>,
        int_auth: Bytes<'py>,
    ) -> Bound<'py, PyBytes> {
        let auth = self.inner.psk_auth(
            signer_is_initiator,
            &psk,
            &real_message,
            &peer_nonce,
            &id_body,
            &int_auth,
        );
        PyBytes::new(py, auth.as_bytes())
    }

    /// RealMessage | peer nonce | prf(SK_p*, id_body) | IntAuth.
    #[pyo3(
        signature = (signer_is_initiator, real_message, peer_nonce, id_body, int_auth = Bytes::empty()),
        text_signature = "(self, /, signer_is_initiator, real_message, peer_nonce, id_body, int_auth=b'')"
    )]
    fn signed_octets<'py>(
        &self,
        py: Python<'py>,
        #[pyo3(from_py_with = flag)] signer_is_initiator: bool,
        real_message: Bytes<'py>,
        peer_nonce: Bytes<'py>,
        id_body: Bytes<'py>,
        int_auth: Bytes<'py>,
    ) -> Bound<'py, PyBytes> {
        PyBytes::new(
            py,
            &self.inner.signed_octets(
                signer_is_initiator,
                &real_message,
                &peer_nonce,
                &id_body,
                &int_auth,
            ),
        )
    }

    /// PRF transform ID.
    #[getter]
    fn prf_id(&self) -> u16 {
        self.inner.suite().prf.id()
    }

    /// ENCR transform ID.
    #[getter]
    fn encr_id(&self) -> u16 {
        self.inner.suite().encr_id
    }

    /// INTEG transform ID (0 with AEADs).
    #[getter]
    fn integ_id(&self) -> u16 {
        self.inner.suite().integ_id
    }

    /// ENCR Key Length attribute in bits.
    #[getter]
    fn encr_key_bits(&self) -> u16 {
        self.inner.suite().encr_key_bits
    }

    /// ONLY for tests and the explicit key log: skeyseed, sk_d, sk_ai, sk_ar, sk_ei, sk_er, sk_pi, sk_pr.
    fn export_secrets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, value) in self.inner.export_secrets() {
            d.set_item(name, PyBytes::new(py, value))?;
        }
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let s = self.inner.suite();
        format!(
            "Keymat(prf_id={}, encr_id={}, encr_key_bits={}, integ_id={})",
            s.prf.id(),
            s.encr_id,
            s.encr_key_bits,
            s.integ_id
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyKeymat>()?;
    Ok(())
}
