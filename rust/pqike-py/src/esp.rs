// SPDX-License-Identifier: Apache-2.0
//! (placeholder: to be implemented)
use pyo3::prelude::*;

pub(crate) fn register(_m: &Bound<'_, PyModule>) -> PyResult<()> {
    Ok(())
}
