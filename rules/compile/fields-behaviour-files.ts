// SPDX-License-Identifier: Apache-2.0
/**
 * Fields of the agent's file and exec behaviour state (agent/behaviour/files.ts, issue 19 class 4):
 * facts that need more than one event — a deleted path that is the program of a live process, a
 * program written by a process that talked to the network, the distinct credential files a
 * process (or its parent's other children) opened recently. The state puts them on the event as
 * {@link FileBehaviourFacts} (`e.fileBehaviour`) before the rules run; events it has nothing to
 * say about carry none, and every field is then missing (every check false, `<NA>` in outputs).
 *
 * The credential name lists live here, where both the rules' tests and the agent's state can read
 * them: the state counts an opened file as credential-looking with {@link isCredentialPath}, and
 * the pack's lists (43-file-behaviour.yaml) must name the same files so the kernel filter the
 * rule pushes down lets exactly these opens through (test/rules/file-behaviour.test.ts checks it).
 */
import type { FileBehaviourFacts, SyscallEvent } from "../event.js";

/** One field of the behaviour state, registered by fields.ts (types named as fields.ts's FieldType; no import back, no cycle). */
export interface BehaviourFieldDef {
  readonly name: string;
  readonly type: "string" | "int" | "uint" | "bool" | "reltime";
  readonly desc: string;
  readonly get: (e: SyscallEvent) => string | number | boolean | undefined;
}

/** File names (the last path component) that hold credentials on their own. */
export const CREDENTIAL_FILE_NAMES: readonly string[] = [
  "id_rsa",
  "id_dsa",
  "id_ecdsa",
  "id_ed25519",
  "id_ecdsa_sk",
  "id_ed25519_sk",
  ".git-credentials",
  ".netrc",
  ".pgpass",
  ".my.cnf",
  ".npmrc",
  ".pypirc",
  ".env",
  ".env.local",
  ".env.production",
  "wp-config.php",
  "shadow",
  "gshadow",
  "master.key",
  "credentials",
  "credentials.json",
  "application_default_credentials.json",
  "access_tokens.db",
  "credentials.db",
  "secring.gpg",
  ".htpasswd",
];

/** `directory/name` pairs whose name alone is too common (`config`): the file's directory's last component and its name. */
export const CREDENTIAL_DIR_FILES: readonly string[] = [".kube/config", ".docker/config.json", ".aws/config", ".ssh/authorized_keys"];

/** Directories (last component) whose every file is a key: `/etc/ssl/private/*`, `/etc/pki/tls/private/*`, GnuPG's `private-keys-v1.d/*`. */
export const CREDENTIAL_DIRS: readonly string[] = ["private", "private-keys-v1.d"];

const NAMES = new Set(CREDENTIAL_FILE_NAMES);
const DIR_FILES = new Set(CREDENTIAL_DIR_FILES);
const DIRS = new Set(CREDENTIAL_DIRS);

/** Whether an absolute path looks like a credential file (name lists above). */
export function isCredentialPath(path: string): boolean {
  const k = path.lastIndexOf("/");
  if (k < 0 || k === path.length - 1) return false;
  const leaf = path.slice(k + 1);
  if (NAMES.has(leaf)) return true;
  const j = path.lastIndexOf("/", k - 1);
  if (j < 0) return false;
  const dir = path.slice(j + 1, k);
  return DIRS.has(dir) || DIR_FILES.has(`${dir}/${leaf}`);
}

const facts =
  (f: (b: FileBehaviourFacts) => string | number | boolean | undefined): BehaviourFieldDef["get"] =>
  (e: SyscallEvent) => {
    const b = e.fileBehaviour;
    return b === undefined ? undefined : f(b);
  };

/** The fields, in the order `vigil rules fields` lists them (it sorts them anyway). */
export const FILE_BEHAVIOUR_FIELDS: readonly BehaviourFieldDef[] = [
  {
    name: "vigil.unlink.running_exe",
    type: "bool",
    desc: "unlink/unlinkat: the deleted path is the executable of a live process of the same container (the deleter itself or another)",
    get: facts((b) => b.runningPid !== undefined),
  },
  {
    name: "vigil.unlink.running_self",
    type: "bool",
    desc: "unlink/unlinkat: the deleted path is the deleting process's own executable (and no other live process runs it)",
    get: facts((b) => (b.runningPid === undefined ? undefined : b.runningSelf)),
  },
  {
    name: "vigil.unlink.running_pid",
    type: "int",
    desc: "unlink/unlinkat: pid of a live process running the deleted executable (another process first, else the deleter)",
    get: facts((b) => b.runningPid),
  },
  {
    name: "vigil.unlink.running_name",
    type: "string",
    desc: "unlink/unlinkat: name (comm) of the live process running the deleted executable",
    get: facts((b) => b.runningName),
  },
  {
    name: "vigil.exe.fetched",
    type: "bool",
    desc: "exec: the program (or the script named by its first arguments) was created by a process that had network activity (connect, accept), itself or a child of it in the same container (`wget -O - url > file`), around the time it created it",
    get: facts((b) => (b.fetchedPath === undefined ? undefined : true)),
  },
  {
    name: "vigil.exe.fetched_path",
    type: "string",
    desc: "exec: the fetched file that runs (the program or the script)",
    get: facts((b) => b.fetchedPath),
  },
  {
    name: "vigil.exe.fetched_by",
    type: "string",
    desc: "exec: name (comm) of the process that created the fetched file (the downloader, or the shell that redirected its output)",
    get: facts((b) => b.fetchedBy),
  },
  {
    name: "vigil.exe.fetched_by_pid",
    type: "int",
    desc: "exec: pid of the process that created the fetched file",
    get: facts((b) => b.fetchedByPid),
  },
  {
    name: "vigil.exe.fetched_age",
    type: "reltime",
    desc: "exec: ns between the fetched file's creation and this exec",
    get: facts((b) => b.fetchedAgeNs),
  },
  {
    name: "vigil.cred.distinct_files",
    type: "uint",
    desc: "open of a credential-looking file: distinct such files opened within the window by this process, or by its parent's children together (a shell loop of cat), whichever is more",
    get: facts((b) => b.credDistinct),
  },
  {
    name: "vigil.cred.new_file",
    type: "bool",
    desc: "open of a credential-looking file: this open added a file to vigil.cred.distinct_files (a threshold on both fires once per actor and window)",
    get: facts((b) => b.credNew),
  },
  {
    name: "vigil.cred.files",
    type: "string",
    desc: "open of a credential-looking file: the first distinct credential files counted (at most 8, comma separated)",
    get: facts((b) => b.credFiles),
  },
];
