// SPDX-License-Identifier: Apache-2.0
//! `pqike._native.kex`: the one `KeyExchange` class for DH groups and ML-KEM
//! (contracts.md §1; the core is `pqike_core::kex`).

use std::sync::{Mutex, MutexGuard};

use pqike_core::kex::{self as core_kex, Role};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

use crate::args::Bytes;
use crate::errors::{CoreError, KeId};

// LIMITATION: the calls keep the GIL while they compute (about 0.03 ms for X25519 or
// ML-KEM, 0.3 ms for ECP-521, 0.6 ms for X448 on the development machine), so other
// Python threads wait that long; only the ESP batch calls release it.
/// One side of one key exchange, looked up by IANA Transform Type 4 ID.
///
/// Call order: initiator `public_key()`; responder `set_peer_public(ke_i)` then
/// `public_key()`; initiator `set_peer_public(ke_r)`; both `shared_secret()`.
#[pyclass(frozen, module = "pqike._native.kex", name = "KeyExchange")]
pub(crate) struct KeyExchange {
    method: u16,
    inner: Mutex<core_kex::KeyExchange>,
}

impl KeyExchange {
    fn lock(&self) -> PyResult<MutexGuard<'_, core_kex::KeyExchange>> {
        self.inner
            .lock()
            .map_err(|_| PyRuntimeError::new_err("KeyExchange lock poisoned"))
    }
}

#[pymethods]
impl KeyExchange {
    /// `seed` None: OS randomness; otherwise (>= 32 bytes) all randomness is expanded
    /// from it with SHAKE-256 per purpose, for replayable tests.
    #[new]
    #[pyo3(signature = (method, seed = None))]
    fn new(method: KeId, seed: Option<Bytes<'_>>) -> PyResult<Self> {
        let id = method.0;
        let inner = match seed {
            None => core_kex::KeyExchange::new(id),
            Some(seed) => core_kex::KeyExchange::with_seed(id, &seed),
        }
        .map_err(CoreError)?;
        Ok(Self {
            method: id,
            inner: Mutex::new(inner),
        })
    }

    /// The IANA KE method ID.
    #[getter]
    const fn method(&self) -> u16 {
        self.method
    }

    /// `"initiator"` or `"responder"` once a KEM object's role is fixed, else None.
    #[getter]
    fn role(&self) -> PyResult<Option<&'static str>> {
        Ok(self.lock()?.role().map(role_name))
    }

    /// This side's KE data (DH public value, ML-KEM ek, or ML-KEM ciphertext).
    fn public_key<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let mut inner = self.lock()?;
        let data = inner.public_key().map_err(CoreError)?;
        Ok(PyBytes::new(py, data))
    }

    /// Validates the peer's KE data and computes the shared secret.
    fn set_peer_public(&self, data: Bytes<'_>) -> PyResult<()> {
        Ok(self.lock()?.set_peer_public(&data).map_err(CoreError)?)
    }

    /// The shared secret; ValueError before `set_peer_public` succeeded.
    fn shared_secret<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyBytes>> {
        let inner = self.lock()?;
        let secret = inner.shared_secret().map_err(CoreError)?;
        Ok(PyBytes::new(py, secret.as_bytes()))
    }

    fn __repr__(&self) -> PyResult<String> {
        let name = core_kex::method_name(self.method);
        let is_kem = core_kex::Method::from_id(self.method).is_ok_and(core_kex::Method::is_kem);
        if !is_kem {
            return Ok(format!("KeyExchange(method={} {name})", self.method));
        }
        let role = self.lock()?.role().map_or("unassigned", role_name);
        Ok(format!(
            "KeyExchange(method={} {name}, role={role})",
            self.method
        ))
    }
}

const fn role_name(role: Role) -> &'static str {
    match role {
        Role::Initiator => "initiator",
        Role::Responder => "responder",
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<KeyExchange>()?;
    m.add(
        "SUPPORTED_METHODS",
        PyTuple::new(m.py(), core_kex::SUPPORTED_METHODS)?,
    )?;
    Ok(())
}
