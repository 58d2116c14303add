/**
 * A private certificate authority for federating test homeservers: one CA and one certificate per
 * server (for the name `localhost` and the loopback addresses), made at start with the Python
 * `cryptography` package that Synapse already depends on (no openssl CLI, no npm package). Each
 * Synapse serves its certificate on its federation listener and trusts the CA through
 * `federation_custom_ca_list` (./config.ts), with `federation_verify_certificates` on.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";

export interface TlsFiles {
  /** The CA certificate (PEM) every server trusts for federation. */
  caFile: string;
  certFile: string;
  /** The server's private key (PEM, mode 0600). */
  keyFile: string;
}

// Runs in Synapse's venv. argv: dir, then one name per server; writes ca.crt and <name>.crt/.key.
const SCRIPT = String.raw`
import datetime, ipaddress, os, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID

out, names = sys.argv[1], sys.argv[2:]
now = datetime.datetime.now(datetime.timezone.utc)
start, end = now - datetime.timedelta(days=1), now + datetime.timedelta(days=30)

def write(path, data, mode=0o644):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)

ca_key = ec.generate_private_key(ec.SECP256R1())
ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mxdb test federation CA")])
ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
      .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
      .not_valid_before(start).not_valid_after(end)
      .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
      .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                   key_encipherment=False, data_encipherment=False, key_agreement=False,
                                   encipher_only=False, decipher_only=False), critical=True)
      .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
      .sign(ca_key, hashes.SHA256()))
write(os.path.join(out, "ca.crt"), ca.public_bytes(serialization.Encoding.PEM))

for name in names:
    key = ec.generate_private_key(ec.SECP256R1())
    sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.IPAddress(ipaddress.ip_address("::1"))]
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    write(os.path.join(out, name + ".crt"), cert.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM))
    write(os.path.join(out, name + ".key"), key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), 0o600)
`;

/** Make a CA and a certificate per name in `dir`. The CA's key is never written: nobody signs more later. */
export function makeFederationCa(python: string, dir: string, names: string[]): Map<string, TlsFiles> {
  const res = spawnSync(python, ["-c", SCRIPT, dir, ...names], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`mxdb: making the federation CA failed (${res.status ?? res.signal}):\n${res.stdout}${res.stderr}`);
  const caFile = join(dir, "ca.crt");
  return new Map(names.map((name) => [name, { caFile, certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) }]));
}
