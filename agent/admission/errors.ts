// SPDX-License-Identifier: Apache-2.0
/** Errors of admission control; `code` doubles as a metrics label. */
export type AdmissionErrorCode =
  /** A body that is not an admission.k8s.io/v1 AdmissionReview with a well-formed request. */
  | "INVALID_REVIEW"
  /** A policy file that does not load (a rule error, an unknown field). */
  | "POLICY_LOAD"
  /** A `--policy-mode` or other option that names nothing or is malformed. */
  | "INVALID_OPTION"
  /** A manifest the dry-run report cannot read. */
  | "INVALID_INPUT";

export class AdmissionError extends Error {
  override readonly name = "AdmissionError";
  constructor(
    readonly code: AdmissionErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
