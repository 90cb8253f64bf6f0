// What kubeha supports. Kept in one place so a release bump is a one-line review.
// Kubernetes minors and their upstream end-of-life dates (kubernetes.io/releases).

export const SUPPORTED_KUBERNETES_MINORS: Readonly<Record<string, string>> = {
  '1.35': '2027-02-28',
  '1.36': '2027-06-28',
  '1.37': '2027-10-28',
};

export const SUPPORTED_CNI = {
  calico: /^v3\.(2[89]|3\d)\.\d+$/,
} as const;

export type CniPlugin = keyof typeof SUPPORTED_CNI;

/** Reason the version cannot be bootstrapped at `today`, or undefined if it can. */
export function kubernetesVersionProblem(version: string, today: Date): string | undefined {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (!match) return 'must be a pinned patch release such as 1.36.4 (no "v", no "latest", no "stable")';
  const minor = `${match[1]}.${match[2]}`;
  const endOfLife = SUPPORTED_KUBERNETES_MINORS[minor];
  if (!endOfLife) {
    return `minor ${minor} is not supported; choose one of ${Object.keys(SUPPORTED_KUBERNETES_MINORS).join(', ')}`;
  }
  if (today.toISOString().slice(0, 10) > endOfLife) {
    return `minor ${minor} reached end of life on ${endOfLife}`;
  }
  return undefined;
}

export function minorOf(version: string): string {
  return version.split('.').slice(0, 2).join('.');
}
