// SPDX-License-Identifier: Apache-2.0
//! `pqike._native.esp`: ESP SAs. The mutable counters and the replay window sit behind a
//! `Mutex`; batch calls run with the GIL released.
use std::sync::{Mutex, MutexGuard};

use pqike_core::aead::{ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305};
use pqike_core::error::{Error, TRANSFORM_TYPE_ENCR};
use pqike_core::esp;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyList, PyTuple};

use crate::aead::check_aead_key;
use crate::args::{flag, Bytes, BytesList};
use crate::errors::{checked_int, to_pyerr, CoreError, EncrId, Field, UnsupportedTransform};

/// The ENCR transforms of `pqike.crypto`'s ESP SAs (docs/contracts.md §1, as the reference
/// backend). The core also seals with AES-GCM-8/12 (18, 19), which the crypto API does not
/// offer for ESP: both backends must give one answer.
const ESP_ENCR: [u16; 2] = [ENCR_AES_GCM_16, ENCR_CHACHA20_POLY1305];

/// `spi`: 1..=2^32-1; SPI 0 is reserved and never sent (RFC 4303 §2.1).
fn spi_arg(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    checked_int(
        obj,
        |&spi: &u32| spi != 0,
        |obj| {
            PyValueError::new_err(format!(
                "ESP SPI must be 1..=4294967295 (0 is reserved, RFC 4303 §2.1), got {obj}"
            ))
        },
    )
}

/// `replay_window`: 0 (off) or 32..=8192.
fn replay_window_arg(obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    checked_int(
        obj,
        |&w: &u32| w == 0 || (esp::MIN_REPLAY_WINDOW..=esp::MAX_REPLAY_WINDOW).contains(&w),
        |obj| {
            PyValueError::new_err(format!(
                "replay window must be 0 (off) or {}..={}, got {obj}",
                esp::MIN_REPLAY_WINDOW,
                esp::MAX_REPLAY_WINDOW
            ))
        },
    )
}

/// `initial_seq`: at least 1 here (an integer of the right kind); the upper end
/// depends on `esn` and is checked in `new` with [`esp::initial_seq_in_range`].
fn initial_seq_arg(obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    checked_int(
        obj,
        |&seq: &u64| seq != 0,
        |obj| {
            PyValueError::new_err(format!(
                "initial sequence number must be 1..=2^32-1 (2^64-1 with ESN), got {obj}"
            ))
        },
    )
}

/// Scratch buffers larger than this are not kept between batch calls.
const MAX_KEPT_SCRATCH: usize = 8 << 20;

/// The SA and a buffer that batch calls reuse, so that a batch costs no allocation per
/// packet on the Rust side.
struct State {
    sa: esp::EspSa,
    scratch: Vec<u8>,
}

/// One direction of an ESP SA (RFC 4303, RFC 4106, RFC 7634).
#[pyclass(module = "pqike._native.esp", name = "EspSa", frozen)]
pub(crate) struct PyEspSa {
    inner: Mutex<State>,
    spi: u32,
    esn: bool,
    encr_id: u16,
}

impl PyEspSa {
    fn lock(&self) -> Result<MutexGuard<'_, State>, CoreError> {
        self.inner
            .lock()
            .map_err(|_| CoreError(Error::InvalidState("ESP SA lock poisoned")))
    }

    /// Takes the scratch buffer out (batch calls build Python objects from it unlocked).
    fn take_scratch(st: &mut State) -> Vec<u8> {
        std::mem::take(&mut st.scratch)
    }

    /// Puts a scratch buffer back unless it grew too large.
    fn return_scratch(&self, buf: Vec<u8>) {
        if buf.capacity() <= MAX_KEPT_SCRATCH {
            if let Ok(mut st) = self.inner.lock() {
                st.scratch = buf;
            }
        }
    }
}

/// Per packet of an opened batch: end offset of its payload in the buffer and next header.
type Opened = Vec<Result<(usize, u8), Error>>;

#[pymethods]
impl PyEspSa {
    #[new]
    #[pyo3(signature = (spi, encr_id, key, *, esn = false, replay_window = 64, initial_seq = 1))]
    fn new(
        #[pyo3(from_py_with = spi_arg)] spi: u32,
        encr_id: EncrId,
        key: Bytes<'_>,
        #[pyo3(from_py_with = flag)] esn: bool,
        #[pyo3(from_py_with = replay_window_arg)] replay_window: u32,
        #[pyo3(from_py_with = initial_seq_arg)] initial_seq: u64,
    ) -> PyResult<Self> {
        let encr_id = encr_id.0;
        // The reference backend's order: the integer ranges (the upper end of
        // `initial_seq` depends on `esn`), then the ENCR transform, then the key.
        if !esp::initial_seq_in_range(initial_seq, esn) {
            return Err(PyValueError::new_err(format!(
                "initial sequence number must be 1..=2^32-1 (2^64-1 with ESN), got {initial_seq}"
            )));
        }
        if !ESP_ENCR.contains(&encr_id) {
            return Err(UnsupportedTransform::new_err((
                TRANSFORM_TYPE_ENCR,
                encr_id,
                format!("ESP supports ENCR 20 and 28, not {encr_id}"),
            )));
        }
        check_aead_key(encr_id, key.len(), true)?;
        let sa = esp::EspSa::new(spi, encr_id, &key, esn, replay_window, initial_seq)
            .map_err(CoreError)?;
        Ok(Self {
            inner: Mutex::new(State {
                sa,
                scratch: Vec::new(),
            }),
            spi,
            esn,
            encr_id,
        })
    }

    /// The SPI.
    #[getter]
    fn spi(&self) -> u32 {
        self.spi
    }

    /// Whether extended sequence numbers are in use.
    #[getter]
    fn esn(&self) -> bool {
        self.esn
    }

    /// The sequence number the next seal uses (2^32 or 2^64 once exhausted).
    #[getter]
    fn next_seq(&self) -> Result<u128, CoreError> {
        let limit = if self.esn { 1u128 << 64 } else { 1u128 << 32 };
        Ok(self.lock()?.sa.next_seq().map_or(limit, u128::from))
    }

    /// The highest authenticated inbound sequence number (0 before the first packet).
    #[getter]
    fn highest_received(&self) -> Result<u64, CoreError> {
        Ok(self.lock()?.sa.highest_received())
    }

    /// SPI | Seq | IV | E(payload | padding | pad length | next header) | ICV.
    fn seal<'py>(
        &self,
        py: Python<'py>,
        payload: Bytes<'py>,
        next_header: Field<u8>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let Field(next_header) = next_header;
        let mut st = self.lock()?;
        let len = st.sa.sealed_len(payload.len());
        PyBytes::new_with(py, len, |out| {
            st.sa
                .seal_into(&payload, next_header, out)
                .map_err(to_pyerr)
        })
    }

    /// Seals every payload with consecutive sequence numbers, the GIL released.
    fn seal_batch<'py>(
        &self,
        py: Python<'py>,
        payloads: BytesList<'py>,
        next_header: Field<u8>,
    ) -> PyResult<Bound<'py, PyList>> {
        let Field(next_header) = next_header;
        let slices = payloads.slices();
        let (buf, ends) = py.detach(|| -> Result<(Vec<u8>, Vec<usize>), CoreError> {
            let mut st = self.lock()?;
            let mut buf = Self::take_scratch(&mut st);
            let mut ends = Vec::with_capacity(slices.len());
            match st
                .sa
                .seal_batch_into(&slices, next_header, &mut buf, &mut ends)
            {
                Ok(()) => Ok((buf, ends)),
                Err(e) => {
                    st.scratch = buf;
                    Err(e.into())
                }
            }
        })?;
        let mut start = 0;
        let list = PyList::new(
            py,
            ends.iter().map(|&end| {
                let packet = PyBytes::new(py, buf.get(start..end).unwrap_or_default());
                start = end;
                packet
            }),
        );
        self.return_scratch(buf);
        list
    }

    /// -> (payload, next_header).
    fn open<'py>(
        &self,
        py: Python<'py>,
        packet: Bytes<'py>,
    ) -> Result<(Bound<'py, PyBytes>, u8), CoreError> {
        // Decrypt into the SA's scratch buffer, so the only allocation is the result.
        let mut st = self.lock()?;
        let State { sa, scratch } = &mut *st;
        scratch.clear();
        let nh = sa.open_append(&packet, scratch)?;
        let payload = PyBytes::new(py, scratch);
        if scratch.capacity() > MAX_KEPT_SCRATCH {
            *scratch = Vec::new();
        }
        Ok((payload, nh))
    }

    /// Opens every packet in order, the GIL released; each entry is (payload, next_header)
    /// or the exception that opening that packet raised.
    fn open_batch<'py>(
        &self,
        py: Python<'py>,
        packets: BytesList<'py>,
    ) -> PyResult<Bound<'py, PyList>> {
        let slices = packets.slices();
        let (buf, opened) = py.detach(|| -> Result<(Vec<u8>, Opened), CoreError> {
            let mut st = self.lock()?;
            let mut buf = Self::take_scratch(&mut st);
            let mut results = Vec::with_capacity(slices.len());
            st.sa.open_batch_into(&slices, &mut buf, &mut results);
            Ok((buf, results))
        })?;
        let mut start = 0;
        let mut items: Vec<Bound<'py, PyAny>> = Vec::with_capacity(opened.len());
        for r in opened {
            items.push(match r {
                Ok((end, nh)) => {
                    let payload = PyBytes::new(py, buf.get(start..end).unwrap_or_default());
                    start = end;
                    PyTuple::new(py, [payload.into_any(), nh.into_pyobject(py)?.into_any()])?
                        .into_any()
                }
                Err(e) => to_pyerr(e).into_value(py).into_bound(py).into_any(),
            });
        }
        self.return_scratch(buf);
        PyList::new(py, items)
    }

    fn __repr__(&self) -> String {
        format!(
            "EspSa(spi={:#010x}, encr_id={}, esn={})",
            self.spi, self.encr_id, self.esn
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEspSa>()?;
    Ok(())
}
