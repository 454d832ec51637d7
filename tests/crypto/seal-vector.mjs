// seal-vector.mjs: the docs/FORMAT.md sealing test vector recomputed with
// WebCrypto (the browser's API, here Node's), independently of our C code.
// Prints "ok <ciphertext b64>" and unseals it again, or exits 1.
import { webcrypto as wc } from 'node:crypto';
import { Buffer } from 'node:buffer';

const pem = (s) => Buffer.from(s.replace(/-----[^-]+-----|\s/g, ''), 'base64');
const holderPriv = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg9yQNanW1lgZZFrzV
TjYvtULFdGLceVHCYsivp7WPahmhRANCAATFUUPaZjfeEO4h31vd0UezRaxUATvh
f2iO/SA2TP1Lxpix2SRaavHWNrjmOQrcCVd+ctBg2p2saV5+f7bKjRNM
-----END PRIVATE KEY-----`;
const holderPub = `-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAExVFD2mY33hDuId9b3dFHs0WsVAE7
4X9ojv0gNkz9S8aYsdkkWmrx1ja45jkK3AlXfnLQYNqdrGlefn+2yo0TTA==
-----END PUBLIC KEY-----`;
const ephPriv = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgI4Jwu+mtH+o9irhy
znymGPhbbdfp1GYTd+pU8n7tw3OhRANCAAS2mc7yIxGnOk02fsSXPrw03t2TX64A
M/T6bTlzXQzP0lVCUXgRa5cZtYbYH2DoqY0BxrIew+eYgpUq6o9VZHuR
-----END PRIVATE KEY-----`;
const keyId = Buffer.from('6f1c1d2e3a4b4c5d8e9fa0b1c2d3e4f5', 'hex');
const nonce = Buffer.from('000102030405060708090a0b', 'hex');
const secret = Buffer.from('e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6', 'hex');
const ecdh = { name: 'ECDH', namedCurve: 'P-256' };

async function aesKey(priv, pub) {
	const z = await wc.subtle.deriveBits({ name: 'ECDH', public: pub }, priv, 256);
	const ikm = await wc.subtle.importKey('raw', z, 'HKDF', false, ['deriveKey']);
	return wc.subtle.deriveKey(
		{ name: 'HKDF', hash: 'SHA-256', salt: keyId, info: new TextEncoder().encode('nvr-seal-v1') },
		ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

const eph = await wc.subtle.importKey('pkcs8', pem(ephPriv), ecdh, true, ['deriveBits']);
const hpub = await wc.subtle.importKey('spki', pem(holderPub), ecdh, true, []);
const hpriv = await wc.subtle.importKey('pkcs8', pem(holderPriv), ecdh, false, ['deriveBits']);
const ct = Buffer.from(await wc.subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: keyId },
	await aesKey(eph, hpub), secret));
// The key holder's side: the ephemeral public key from the sealed object.
const ephJwk = await wc.subtle.exportKey('jwk', eph);
delete ephJwk.d;
const epub = await wc.subtle.importKey('jwk', ephJwk, ecdh, true, []);
const epk = Buffer.from(await wc.subtle.exportKey('raw', epub)).toString('base64');
const opened = Buffer.from(await wc.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: keyId },
	await aesKey(hpriv, epub), ct));
if (!opened.equals(secret)) {
	console.log('unsealed secret differs');
	process.exit(1);
}
console.log(`ok ${ct.toString('base64')} ${epk}`);
