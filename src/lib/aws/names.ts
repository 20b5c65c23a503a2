/** S3's bucket naming rule (lower case, digits, dots and hyphens; 3–63 characters), for every place that checks a bucket name. */
export const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
