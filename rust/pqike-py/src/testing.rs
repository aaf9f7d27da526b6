// SPDX-License-Identifier: Apache-2.0
//! `pqike._native.testing`: known-answer hooks with caller-chosen keys and randomness
//! (`pqike_core::kex::kat`). Never used by the protocol engine.

use pqike_core::error::TRANSFORM_TYPE_KE;
use pqike_core::kex::{kat, Method};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::Bytes;
use crate::errors::{CoreError, KeId, UnsupportedTransform};

/// The ID of `method` if it is one of `kind` (ML-KEM or ECP; unknown IDs pass, for the
/// core's own UnsupportedTransform). A known method of the other kind is an
/// `UnsupportedTransform` naming it, as the reference backend raises, rather than the
/// core's ValueError ("invalid state").
fn method_of(method: KeId, is_kind: fn(Method) -> bool, kind: &str) -> PyResult<u16> {
    match Method::from_id(method.0) {
        Ok(m) if !is_kind(m) => Err(UnsupportedTransform::new_err((
            TRANSFORM_TYPE_KE,
            method.0,
            format!("KE {} is not {kind}", method.0),
        ))),
        _ => Ok(method.0),
    }
}

fn kem(method: KeId) -> PyResult<u16> {
    method_of(method, Method::is_kem, "ML-KEM")
}

fn ecp(method: KeId) -> PyResult<u16> {
    method_of(method, Method::is_ecp, "an ECP group")
}

type BytesPair<'py> = (Bound<'py, PyBytes>, Bound<'py, PyBytes>);

/// `(ek, dk)` from the 64-byte seed `d || z`; dk in the FIPS 203 expanded form.
#[pyfunction]
fn mlkem_keygen<'py>(
    py: Python<'py>,
    method: KeId,
    seed_dz: Bytes<'py>,
) -> PyResult<BytesPair<'py>> {
    let (ek, dk) = kat::mlkem_keygen(kem(method)?, &seed_dz).map_err(CoreError)?;
    Ok((PyBytes::new(py, &ek), PyBytes::new(py, dk.as_bytes())))
}

/// `(ct, K)` from ek and the 32-byte randomness m, after the FIPS 203 §7.2 checks.
#[pyfunction]
fn mlkem_encaps<'py>(
    py: Python<'py>,
    method: KeId,
    ek: Bytes<'py>,
    m: Bytes<'py>,
) -> PyResult<BytesPair<'py>> {
    let (ct, k) = kat::mlkem_encaps(kem(method)?, &ek, &m).map_err(CoreError)?;
    Ok((PyBytes::new(py, &ct), PyBytes::new(py, k.as_bytes())))
}

/// K from dk (64-byte seed `d || z` or expanded form) and ct, after the §7.3 check.
#[pyfunction]
fn mlkem_decaps<'py>(
    py: Python<'py>,
    method: KeId,
    dk: Bytes<'py>,
    ct: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    let k = kat::mlkem_decaps(kem(method)?, &dk, &ct).map_err(CoreError)?;
    Ok(PyBytes::new(py, k.as_bytes()))
}

/// X25519(private, public) with the all-zero check.
#[pyfunction]
fn x25519<'py>(
    py: Python<'py>,
    private: Bytes<'py>,
    public: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    let shared = kat::x25519(&private, &public).map_err(CoreError)?;
    Ok(PyBytes::new(py, shared.as_bytes()))
}

/// X448(private, public) with the low-order and all-zero checks.
#[pyfunction]
fn x448<'py>(
    py: Python<'py>,
    private: Bytes<'py>,
    public: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    let shared = kat::x448(&private, &public).map_err(CoreError)?;
    Ok(PyBytes::new(py, shared.as_bytes()))
}

/// ECDH on group 19/20/21: big-endian scalar of the field size, peer `x || y`.
#[pyfunction]
fn ecdh<'py>(
    py: Python<'py>,
    method: KeId,
    private_scalar: Bytes<'py>,
    peer_public_xy: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    let shared = kat::ecdh(ecp(method)?, &private_scalar, &peer_public_xy).map_err(CoreError)?;
    Ok(PyBytes::new(py, shared.as_bytes()))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(mlkem_keygen, m)?)?;
    m.add_function(wrap_pyfunction!(mlkem_encaps, m)?)?;
    m.add_function(wrap_pyfunction!(mlkem_decaps, m)?)?;
    m.add_function(wrap_pyfunction!(x25519, m)?)?;
    m.add_function(wrap_pyfunction!(x448, m)?)?;
    m.add_function(wrap_pyfunction!(ecdh, m)?)?;
    Ok(())
}
