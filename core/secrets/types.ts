/** Users' own credentials for upstream servers (`PUT /v1/me/credentials/<server>`), kept encrypted. */
export interface UserCredentials {
  /** The user's credential for `server`, decrypted, or undefined when they have not stored one. */
  get(subject: string, server: string): Promise<string | undefined>;
  /** Subscribes to changes (set or delete) so the user's connection to that server is rebuilt; returns the unsubscribe function. */
  onChange(listener: (subject: string, server: string) => void): () => void;
}
