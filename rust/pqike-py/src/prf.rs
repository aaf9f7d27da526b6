// SPDX-License-Identifier: Apache-2.0
//! `pqike._native.prf`: IKEv2 PRFs, prf+ (RFC 7296 §2.13) and truncated INTEG MACs
//! (the core is `pqike_core::prf`).

use pqike_core::prf::{self as core_prf, Integ, Prf};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::args::Bytes;
use crate::errors::{CoreError, IntegId, Length, PrfId};

fn prf_of(prf_id: PrfId) -> PyResult<Prf> {
    Ok(Prf::from_id(prf_id.0).map_err(CoreError)?)
}

/// `prf(key, data)` for PRF 2 (HMAC-SHA1) or 5/6/7 (HMAC-SHA2-256/384/512).
#[pyfunction]
fn prf<'py>(
    py: Python<'py>,
    prf_id: PrfId,
    key: Bytes<'py>,
    data: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    Ok(PyBytes::new(
        py,
        prf_of(prf_id)?.compute(&key, &data).as_bytes(),
    ))
}

/// The first `length` octets of prf+(key, seed); InvalidLength beyond 255 blocks.
#[pyfunction]
fn prf_plus<'py>(
    py: Python<'py>,
    prf_id: PrfId,
    key: Bytes<'py>,
    seed: Bytes<'py>,
    length: Length,
) -> PyResult<Bound<'py, PyBytes>> {
    let out = prf_of(prf_id)?
        .prf_plus(&key, &seed, length.0)
        .map_err(CoreError)?;
    Ok(PyBytes::new(py, out.as_bytes()))
}

/// Truncated ICV of INTEG 2, 12, 13 or 14; the key must have the transform's length.
#[pyfunction]
fn integ_mac<'py>(
    py: Python<'py>,
    integ_id: IntegId,
    key: Bytes<'py>,
    data: Bytes<'py>,
) -> PyResult<Bound<'py, PyBytes>> {
    let integ = Integ::from_id(integ_id.0).map_err(CoreError)?;
    let icv = integ.compute(&key, &data).map_err(CoreError)?;
    Ok(PyBytes::new(py, icv.as_bytes()))
}

/// Constant-time check that `tag` (1 octet up to the full output) is a prefix of
/// prf(key, data).
#[pyfunction]
fn hmac_verify(prf_id: PrfId, key: Bytes<'_>, data: Bytes<'_>, tag: Bytes<'_>) -> PyResult<bool> {
    Ok(prf_of(prf_id)?.verify(&key, &data, &tag))
}

/// Constant-time equality of two byte strings (different lengths: False).
#[pyfunction]
fn constant_time_eq(a: Bytes<'_>, b: Bytes<'_>) -> bool {
    core_prf::constant_time_eq(&a, &b)
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(prf, m)?)?;
    m.add_function(wrap_pyfunction!(prf_plus, m)?)?;
    m.add_function(wrap_pyfunction!(integ_mac, m)?)?;
    m.add_function(wrap_pyfunction!(hmac_verify, m)?)?;
    m.add_function(wrap_pyfunction!(constant_time_eq, m)?)?;
    Ok(())
}
