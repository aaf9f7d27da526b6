// SPDX-License-Identifier: Apache-2.0
//! Known answers for the IKEv2 key schedule.
//!
//! - NIST SP 800-135 IKEv2 samples (tests/vectors/ikev2-kdf): all five outputs.
//! - strongSwan 6.0.6 transcripts (tests/vectors/strongswan): from the logged shared
//!   secrets, the nonces and the SPIs, every logged SKEYSEED, SK_* and Child SA key of every
//!   stage (IKE_SA_INIT + RFC 9370 update, Child SA rekeys with KE + ADDKE, IKE SA rekeys).
//!   The new SPIs of each IKE rekey come from the SA payloads inside the encrypted
//!   CREATE_CHILD_SA messages, which are opened with our own IkeCipher; every SK and SKF
//!   payload in the captures must open, and so must every ESP packet, with the derived
//!   Child SA keys.
#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use std::collections::HashMap;
use std::path::PathBuf;

use pqike_core::aead::Aead;
use pqike_core::esp::EspSa;
use pqike_core::keymat::Keymat;
use serde_json::Value;

fn load(rel: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/vectors")
        .join(rel);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn h(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn secrets(km: &Keymat) -> HashMap<&'static str, Vec<u8>> {
    km.export_secrets()
        .iter()
        .map(|(k, v)| (*k, v.to_vec()))
        .collect()
}

#[test]
fn nist_sp800_135_ikev2_all_five_outputs() {
    let d = load("ikev2-kdf/nist-sp800-135-sha1.json");
    let tests = d["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2);
    for t in tests {
        assert_eq!(t["hashAlg"], "SHA-1");
        let (gir, gir_new) = (h(&t["gir"]), h(&t["girNew"]));
        let (ni, nr, spi_i, spi_r) = (
            h(&t["nInit"]),
            h(&t["nResp"]),
            h(&t["spiInit"]),
            h(&t["spiResp"]),
        );
        // 132 octets = SK_d 20 | SK_a* 2x20 (HMAC-SHA1-96) | SK_e* 2x16 (AES-CBC-128) | SK_p* 2x20.
        assert_eq!(t["dkmLengthBytes"], 132);
        let km = Keymat::derive(2, 12, 128, 2, &gir, &ni, &nr, &spi_i, &spi_r).unwrap();
        let s = secrets(&km);
        assert_eq!(s["skeyseed"], h(&t["sKeySeed"]));
        let dkm: Vec<u8> = ["sk_d", "sk_ai", "sk_ar", "sk_ei", "sk_er", "sk_pi", "sk_pr"]
            .iter()
            .flat_map(|k| s[k].clone())
            .collect();
        assert_eq!(dkm, h(&t["derivedKeyingMaterial"]));
        let n = t["dkmChildLengthBytes"].as_u64().unwrap() as usize;
        assert_eq!(
            km.child_keymat(n, &ni, &nr, &[]).unwrap().as_bytes(),
            h(&t["derivedKeyingMaterialChild"])
        );
        assert_eq!(
            km.child_keymat(n, &ni, &nr, &[&gir_new])
                .unwrap()
                .as_bytes(),
            h(&t["derivedKeyingMaterialDh"])
        );
        let rekeyed = km
            .rekey_ike(&[&gir_new], &ni, &nr, &spi_i, &spi_r, 2, 12, 128, 2)
            .unwrap();
        assert_eq!(secrets(&rekeyed)["skeyseed"], h(&t["sKeySeedReKey"]));
    }
}

// ---- a minimal IKE message walker, enough to find SK/SKF, SA SPIs and nonces ----

const SK: u8 = 46;
const SKF: u8 = 53;
const SA: u8 = 33;
const CREATE_CHILD_SA: u8 = 36;

struct Datagram {
    from_a: bool,
    bytes: Vec<u8>,
}

/// One IKE message (non-ESP marker removed).
struct Ike<'a> {
    raw: &'a [u8],
    spi_i: [u8; 8],
    spi_r: [u8; 8],
    exchange: u8,
    from_initiator: bool,
    is_response: bool,
    /// (payload type, offset of its generic header, payload length) of the encrypted payload.
    encrypted: Option<(u8, usize, usize)>,
}

fn parse_ike(raw: &[u8]) -> Ike<'_> {
    let mut ty = raw[16];
    let mut off = 28;
    let mut encrypted = None;
    while ty != 0 {
        let len = usize::from(u16::from_be_bytes([raw[off + 2], raw[off + 3]]));
        if ty == SK || ty == SKF {
            encrypted = Some((ty, off, len));
            break;
        }
        ty = raw[off];
        off += len;
    }
    Ike {
        raw,
        spi_i: raw[0..8].try_into().unwrap(),
        spi_r: raw[8..16].try_into().unwrap(),
        exchange: raw[18],
        from_initiator: raw[19] & 0x08 != 0,
        is_response: raw[19] & 0x20 != 0,
        encrypted,
    }
}

/// (protocol, SPI) of every proposal in the SA payloads of plaintext `inner`, whose first
/// payload has type `first`.
fn sa_spis(first: u8, inner: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let (mut ty, mut off) = (first, 0);
    while ty != 0 && off + 4 <= inner.len() {
        let len = usize::from(u16::from_be_bytes([inner[off + 2], inner[off + 3]]));
        if ty == SA {
            let mut p = off + 4;
            while p < off + len {
                let plen = usize::from(u16::from_be_bytes([inner[p + 2], inner[p + 3]]));
                let (protocol, spi_size) = (inner[p + 5], usize::from(inner[p + 6]));
                out.push((protocol, inner[p + 8..p + 8 + spi_size].to_vec()));
                p += plen;
            }
        }
        ty = inner[off];
        off += len;
    }
    out
}

struct Sa {
    spi_i: [u8; 8],
    spi_r: [u8; 8],
    keymat: Keymat,
}

/// Opens the SK or SKF payload of `m` with any generation of keys of its IKE SA.
/// Returns (first inner payload type, plaintext) or `None`.
fn open(sas: &[Sa], m: &Ike<'_>) -> Option<(u8, Vec<u8>)> {
    let (ty, off, len) = m.encrypted?;
    let header = if ty == SK { 4 } else { 8 };
    let aad = &m.raw[..off + header];
    let body = &m.raw[off + header..off + len];
    sas.iter()
        .filter(|sa| sa.spi_i == m.spi_i && sa.spi_r == m.spi_r)
        .find_map(|sa| {
            let cipher = sa.keymat.cipher(m.from_initiator).unwrap();
            let pt = cipher.open(aad, body).ok()?;
            // Sealing the plaintext again with the same IV gives strongSwan's bytes
            // (it adds no padding for AEADs, as we do).
            let iv = &body[..cipher.iv_len()];
            assert_eq!(
                cipher.seal(aad, iv, &pt).unwrap(),
                body,
                "re-sealed SK payload"
            );
            Some(pt)
        })
        .map(|pt| (m.raw[off], pt))
}

/// The IKE message inside a datagram, or `None` for ESP.
fn ike_of(dg: &Datagram, port_4500: bool) -> Option<&[u8]> {
    if !port_4500 {
        return Some(&dg.bytes);
    }
    dg.bytes.strip_prefix(&[0, 0, 0, 0][..])
}

fn suite_of(proposal: &str) -> (u16, u16, u16) {
    let encr_bits = if proposal.starts_with("aes256gcm16") {
        256
    } else if proposal.starts_with("aes128gcm16") {
        128
    } else {
        panic!("unexpected proposal {proposal}")
    };
    let prf = if proposal.contains("prfsha384") {
        6
    } else if proposal.contains("prfsha256") {
        5
    } else {
        panic!("unexpected proposal {proposal}")
    };
    (prf, 20, encr_bits)
}

#[derive(Default)]
struct Counts {
    skeyseeds: usize,
    sk_keys: usize,
    child_keys: usize,
    ike_opened: usize,
    esp_opened: usize,
    int_auths: usize,
    auths: usize,
}

/// (type, body) of every payload of a chain that starts with type `first` at `data[0]`.
fn payload_bodies(first: u8, data: &[u8]) -> Vec<(u8, &[u8])> {
    let mut out = Vec::new();
    let (mut ty, mut off) = (first, 0);
    while ty != 0 && off + 4 <= data.len() {
        let len = usize::from(u16::from_be_bytes([data[off + 2], data[off + 3]]));
        out.push((ty, &data[off + 4..off + len]));
        ty = data[off];
        off += len;
    }
    out
}

/// The body of the first payload of type `ty`.
fn body_of(payloads: &[(u8, &[u8])], ty: u8) -> Vec<u8> {
    payloads
        .iter()
        .find(|(t, _)| *t == ty)
        .map(|(_, b)| b.to_vec())
        .unwrap()
}

/// The IntAuth chunks (RFC 9242 §3.3.2) of the request or response with message ID `mid`
/// on `sa`: A = IKE header and SK header with lengths as if sent unfragmented and without
/// IV, padding and ICV; P = the reassembled inner payloads. Also returns the plaintext.
fn int_auth_chunks(
    dgs: &[(Datagram, bool)],
    sa: &Sa,
    mid: u32,
    response: bool,
) -> (Vec<u8>, Vec<u8>, u8) {
    let mut fragments: Vec<(u16, Vec<u8>, Vec<u8>, u8)> = Vec::new();
    for (dg, port_4500) in dgs {
        let Some(raw) = ike_of(dg, *port_4500) else {
            continue;
        };
        let m = parse_ike(raw);
        if (m.spi_i, m.spi_r) != (sa.spi_i, sa.spi_r)
            || m.is_response != response
            || raw[20..24] != mid.to_be_bytes()
        {
            continue;
        }
        let (ty, off, _) = m.encrypted.unwrap();
        let number = if ty == SKF {
            u16::from_be_bytes([raw[off + 4], raw[off + 5]])
        } else {
            1
        };
        if fragments.iter().any(|f| f.0 == number) {
            continue; // a retransmission
        }
        let (first, pt) = open(std::slice::from_ref(sa), &m).unwrap();
        fragments.push((number, raw[..off].to_vec(), pt, first));
    }
    fragments.sort_by_key(|f| f.0);
    let p: Vec<u8> = fragments.iter().flat_map(|f| f.2.clone()).collect();
    let (mut a, first) = (fragments[0].1.clone(), fragments[0].3);
    let total = a.len() + 4 + p.len();
    if a.len() == 28 {
        a[16] = SK;
    }
    a[24..28].copy_from_slice(&u32::try_from(total).unwrap().to_be_bytes());
    a.extend_from_slice(&[first, 0]);
    a.extend_from_slice(&u16::try_from(4 + p.len()).unwrap().to_be_bytes());
    (a, p, first)
}

/// Recomputes the logged IntAuth_i1/IntAuth_r1 from the IKE_INTERMEDIATE messages (keys
/// SK_p*(0)) and both AUTH payloads of IKE_AUTH (keys SK_p*(1), with IntAuth).
fn check_int_auth_and_psk_auth(
    file: &str,
    dgs: &[(Datagram, bool)],
    sas: &[Sa],
    logged: &[Vec<u8>],
    psk: &[u8],
) {
    let (km0, km1) = (&sas[0], &sas[1]);
    let (a_i, p_i, _) = int_auth_chunks(dgs, km0, 1, false);
    let (a_r, p_r, _) = int_auth_chunks(dgs, km0, 1, true);
    let int_auth_i = km0.keymat.int_auth(true, &[], &a_i, &p_i);
    let int_auth_r = km0.keymat.int_auth(false, &[], &a_r, &p_r);
    assert_eq!(
        logged,
        [
            int_auth_i.as_bytes().to_vec(),
            int_auth_r.as_bytes().to_vec()
        ],
        "{file}: IntAuth"
    );
    // IKE_AUTH is message ID 2 here.
    let int_auth = [
        int_auth_i.as_bytes(),
        int_auth_r.as_bytes(),
        &2u32.to_be_bytes(),
    ]
    .concat();
    let (msg1, msg2) = (&dgs[0].0.bytes, &dgs[1].0.bytes);
    let ni = body_of(&payload_bodies(msg1[16], &msg1[28..]), 40);
    let nr = body_of(&payload_bodies(msg2[16], &msg2[28..]), 40);
    for (response, id_type) in [(false, 35u8), (true, 36)] {
        let (_, p, first) = int_auth_chunks(dgs, km1, 2, response);
        let payloads = payload_bodies(first, &p);
        let (id_body, auth) = (body_of(&payloads, id_type), body_of(&payloads, 39));
        assert_eq!(auth[0], 2, "{file}: AUTH method shared key");
        let (real, peer_nonce) = if response { (msg2, &ni) } else { (msg1, &nr) };
        let want = km1
            .keymat
            .psk_auth(!response, psk, real, peer_nonce, &id_body, &int_auth);
        assert_eq!(
            &auth[4..],
            want.as_bytes(),
            "{file}: AUTH of the {}",
            if response { "responder" } else { "initiator" }
        );
    }
}

fn transcript(file: &str) -> Counts {
    let d = load(&format!("strongswan/{file}"));
    let (prf, encr, bits) = suite_of(d["config"]["ike_proposal"].as_str().unwrap());
    // (bytes, port 4500?) of every datagram in capture order.
    let mut dgs: Vec<(Datagram, bool)> = Vec::new();
    for capture in ["initial", "rekey"] {
        for p in d["captures"][capture].as_array().unwrap() {
            let port_4500 = p["dst"].as_str().unwrap().ends_with(":4500");
            let from_a = p["src"].as_str().unwrap().starts_with("10.77.0.1:");
            dgs.push((
                Datagram {
                    from_a,
                    bytes: h(&p["hex"]),
                },
                port_4500,
            ));
        }
    }
    let first = parse_ike(&dgs[0].0.bytes);
    let second = parse_ike(&dgs[1].0.bytes);
    let (spi_i, spi_r) = (first.spi_i, second.spi_r);

    let mut counts = Counts::default();
    let mut sas: Vec<Sa> = Vec::new();
    let mut child_keys: Vec<Vec<u8>> = Vec::new();
    // The IKE SA whose SK_d keys the next Child SA / IKE rekey.
    let mut current: Option<usize> = None;
    let mut int_auths: Vec<Vec<u8>> = Vec::new();

    for stage in d["stages"].as_array().unwrap() {
        let name = stage["stage"].as_str().unwrap();
        let mut ke: Vec<Vec<u8>> = Vec::new();
        let mut nonces: Vec<u8> = Vec::new();
        let mut child: Option<Vec<u8>> = None;
        for s in stage["secrets"].as_array().unwrap() {
            let label = s["name"].as_str().unwrap();
            let value = h(&s["hex"]);
            assert_eq!(value.len() as u64, s["octets"].as_u64().unwrap());
            match label {
                "key exchange secret" => ke = vec![value],
                "additional key exchange secret" => {
                    if !value.is_empty() {
                        ke.push(value);
                    }
                }
                "nonces" => nonces = value,
                "SKEYSEED" => {
                    let (ni, nr) = nonces.split_at(nonces.len() / 2);
                    let (km, si, sr) = if name == "initiate" {
                        let km = match current {
                            None => {
                                Keymat::derive(prf, encr, bits, 0, &ke[0], ni, nr, &spi_i, &spi_r)
                                    .unwrap()
                            }
                            Some(i) => sas[i].keymat.update_after_ke(&ke[0]).unwrap(),
                        };
                        (km, spi_i, spi_r)
                    } else {
                        assert!(name.starts_with("rekey ike"), "{name}");
                        // New SPIs: the IKE proposals of the CREATE_CHILD_SA exchange on the
                        // current SA (request: SPIi, response: SPIr).
                        let cur = &sas[current.unwrap()];
                        let (mut new_i, mut new_r) = (None, None);
                        for (dg, port_4500) in &dgs {
                            let Some(raw) = ike_of(dg, *port_4500) else {
                                continue;
                            };
                            let m = parse_ike(raw);
                            if m.exchange != CREATE_CHILD_SA
                                || m.spi_i != cur.spi_i
                                || m.spi_r != cur.spi_r
                            {
                                continue;
                            }
                            let (first, pt) = open(&sas, &m).expect("CREATE_CHILD_SA opens");
                            for (protocol, spi) in sa_spis(first, &pt) {
                                if protocol == 1 {
                                    let slot = if m.is_response {
                                        &mut new_r
                                    } else {
                                        &mut new_i
                                    };
                                    *slot = Some(spi);
                                }
                            }
                        }
                        let refs: Vec<&[u8]> = ke.iter().map(Vec::as_slice).collect();
                        let (new_i, new_r) = (new_i.unwrap(), new_r.unwrap());
                        let km = cur
                            .keymat
                            .rekey_ike(&refs, ni, nr, &new_i, &new_r, prf, encr, bits, 0)
                            .unwrap();
                        (km, new_i.try_into().unwrap(), new_r.try_into().unwrap())
                    };
                    assert_eq!(secrets(&km)["skeyseed"], value, "{file} {name}: SKEYSEED");
                    counts.skeyseeds += 1;
                    sas.push(Sa {
                        spi_i: si,
                        spi_r: sr,
                        keymat: km,
                    });
                    current = Some(sas.len() - 1);
                }
                "Sk_d secret" | "Sk_ai secret" | "Sk_ar secret" | "Sk_ei secret"
                | "Sk_er secret" | "Sk_pi secret" | "Sk_pr secret" => {
                    let key = label.trim_end_matches(" secret").to_lowercase();
                    let got = secrets(&sas[current.unwrap()].keymat)[key.as_str()].clone();
                    assert_eq!(got, value, "{file} {name}: {label}");
                    counts.sk_keys += 1;
                }
                "seed" => {
                    // Ni | Nr, or SK(0) | Ni | Nr | SK(1) with PFS.
                    let km = &sas[current.unwrap()].keymat;
                    let secrets_len: usize = ke.iter().map(Vec::len).sum();
                    let (ni, nr) = if s["layer"] == "CHD" && !ke.is_empty() && name != "initiate" {
                        assert_eq!(&value[..ke[0].len()], ke[0].as_slice());
                        assert_eq!(&value[value.len() - ke[1].len()..], ke[1].as_slice());
                        let mid = &value[ke[0].len()..value.len() - ke[1].len()];
                        mid.split_at(mid.len() / 2)
                    } else {
                        assert_eq!(value, nonces);
                        value.split_at(value.len() / 2)
                    };
                    let refs: Vec<&[u8]> = if name == "initiate" {
                        Vec::new()
                    } else {
                        ke.iter().map(Vec::as_slice).collect()
                    };
                    assert_eq!(
                        value.len(),
                        ni.len() + nr.len() + if refs.is_empty() { 0 } else { secrets_len }
                    );
                    let key_len = usize::from(bits / 8) + 4;
                    child = Some(
                        km.child_keymat(2 * key_len, ni, nr, &refs)
                            .unwrap()
                            .as_bytes()
                            .to_vec(),
                    );
                }
                "encryption initiator key" | "encryption responder key" => {
                    let k = child.as_ref().unwrap();
                    let half = k.len() / 2;
                    let want = if label.contains("initiator") {
                        &k[..half]
                    } else {
                        &k[half..]
                    };
                    assert_eq!(want, value.as_slice(), "{file} {name}: {label}");
                    child_keys.push(value);
                    counts.child_keys += 1;
                }
                l if l.starts_with("IntAuth") => {
                    int_auths.push(value);
                    counts.int_auths += 1;
                }
                other => panic!("{file}: unexpected secret {other}"),
            }
        }
    }

    // IntAuth (RFC 9242) and both AUTH payloads (RFC 7296 §2.15) of the initial exchanges.
    let psk = d["config"]["psk"].as_str().unwrap().as_bytes();
    check_int_auth_and_psk_auth(file, &dgs, &sas, &int_auths, psk);
    counts.auths = 2;

    // Every encrypted IKE message opens with the keys of its SA; ESP with a child key.
    let mut esp_rx: HashMap<u32, EspSa> = HashMap::new();
    let mut esp_keys: HashMap<u32, Vec<u8>> = HashMap::new();
    let mut esp_spis_negotiated: Vec<Vec<u8>> = Vec::new();
    for (dg, port_4500) in &dgs {
        if let Some(raw) = ike_of(dg, *port_4500) {
            let m = parse_ike(raw);
            if let Some((ty, _, _)) = m.encrypted {
                let (first, pt) = open(&sas, &m).unwrap_or_else(|| {
                    panic!("{file}: SK payload of exchange {} must open", m.exchange)
                });
                // SA payloads never travel in fragments here (only KE payloads are large).
                if ty == SK {
                    for (protocol, spi) in sa_spis(first, &pt) {
                        if protocol == 3 {
                            esp_spis_negotiated.push(spi);
                        }
                    }
                }
                counts.ike_opened += 1;
            }
            continue;
        }
        let spi = u32::from_be_bytes(dg.bytes[0..4].try_into().unwrap());
        assert!(
            esp_spis_negotiated.contains(&spi.to_be_bytes().to_vec()),
            "{file}: ESP SPI {spi:#x} was negotiated"
        );
        // The first packet of an SPI binds the child key that opens it; later packets of
        // that SPI go through the same receiver (so its replay window is exercised too).
        let opened = match esp_rx.get_mut(&spi) {
            Some(rx) => rx.open(&dg.bytes).ok(),
            None => child_keys.iter().find_map(|k| {
                let mut sa = EspSa::new(spi, 20, k, false, 64, 1).unwrap();
                let opened = sa.open(&dg.bytes).ok()?;
                esp_rx.insert(spi, sa);
                esp_keys.insert(spi, k.clone());
                Some(opened)
            }),
        };
        let (inner, next_header) = opened.unwrap_or_else(|| {
            panic!(
                "{file}: ESP packet for {spi:#x} from {} must open",
                if dg.from_a { "A" } else { "B" }
            )
        });
        // Tunnel mode: an IPv4 packet between the traffic selectors 10.78.1.1 and 10.78.2.1.
        assert_eq!(next_header, 4, "{file}: tunnel mode carries IPv4");
        assert_eq!(inner[0] >> 4, 4);
        let addrs = [&inner[12..16], &inner[16..20]];
        assert!(
            addrs == [[10, 78, 1, 1], [10, 78, 2, 1]] || addrs == [[10, 78, 2, 1], [10, 78, 1, 1]]
        );
        // strongSwan pads as we do (1, 2, 3.. to a 4-octet boundary): sealing the payload
        // again with its IV (strongSwan's IVs are not the sequence number) gives its bytes.
        let key = &esp_keys[&spi];
        let aead = Aead::new(20, &key[..key.len() - 4]).unwrap();
        let pad = (4 - (inner.len() + 2) % 4) % 4;
        let mut body: Vec<u8> = inner.clone();
        body.extend((1..=pad).map(|i| i as u8));
        body.extend([pad as u8, next_header]);
        let nonce: [u8; 12] = [&key[key.len() - 4..], &dg.bytes[8..16]]
            .concat()
            .try_into()
            .unwrap();
        let mut tag = [0u8; 16];
        aead.seal_in_place(&nonce, &dg.bytes[..8], &mut body, &mut tag)
            .unwrap();
        body.extend_from_slice(&tag);
        assert_eq!(body, &dg.bytes[16..], "{file}: re-sealed ESP packet");
        counts.esp_opened += 1;
    }
    eprintln!(
        "{file}: {} IKE messages and {} ESP packets opened",
        counts.ike_opened, counts.esp_opened
    );
    counts
}

/// Both transcripts have the same shape: 2 SKEYSEEDs in the initial stage and one per IKE
/// rekey, 5 SK_* keys (AEAD: no SK_a*) each, 3 Child SAs with 2 keys; 73 datagrams of which
/// 2 are IKE_SA_INIT in the clear, 35 encrypted IKE messages and 36 ESP packets; one
/// IKE_INTERMEDIATE round (two IntAuth values) and two PSK AUTH payloads.
fn check_transcript(file: &str) {
    let c = transcript(file);
    assert_eq!(c.skeyseeds, 4);
    assert_eq!(c.sk_keys, 4 * 5);
    assert_eq!(c.child_keys, 3 * 2);
    assert_eq!((c.ike_opened, c.esp_opened), (35, 36));
    assert_eq!((c.int_auths, c.auths), (2, 2));
}

#[test]
fn strongswan_x25519_mlkem768() {
    check_transcript("x25519-mlkem768.json");
}

#[test]
fn strongswan_ecp256_mlkem768() {
    check_transcript("ecp256-mlkem768.json");
}
