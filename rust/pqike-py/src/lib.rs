// SPDX-License-Identifier: Apache-2.0
//! PyO3 glue that exposes pqike-core as `pqike._native`.
//!
//! Each submodule file owns one `_native.<name>` submodule and provides
//! `register(&module)`; this file only wires them together.

use pyo3::prelude::*;

mod aead;
mod args;
mod errors;
mod esp;
mod kex;
mod keymat;
mod prf;
mod testing;

fn add_submodule(
    parent: &Bound<'_, PyModule>,
    name: &str,
    register: fn(&Bound<'_, PyModule>) -> PyResult<()>,
) -> PyResult<()> {
    let py = parent.py();
    let child = PyModule::new(py, name)?;
    register(&child)?;
    parent.add_submodule(&child)?;
    // Make `import pqike._native.kex` work, not only attribute access.
    py.import("sys")?
        .getattr("modules")?
        .set_item(format!("pqike._native.{name}"), &child)?;
    Ok(())
}

/// The compiled core of pqike.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_submodule(m, "kex", kex::register)?;
    add_submodule(m, "prf", prf::register)?;
    add_submodule(m, "keymat", keymat::register)?;
    add_submodule(m, "aead", aead::register)?;
    add_submodule(m, "esp", esp::register)?;
    add_submodule(m, "testing", testing::register)?;
    errors::register(m)?;
    Ok(())
}
