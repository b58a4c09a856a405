"""Token-bucket rate limits per API key (or client address) and per chat user, in process or
shared through Redis. Free of any web framework; the HTTP adapter turns a refusal into a 429."""

from chatguard.ratelimit.buckets import BucketSpec, InProcessBuckets, Take, Verdict
from chatguard.ratelimit.limiter import RateLimiter
from chatguard.ratelimit.redis_buckets import RedisBuckets

__all__ = ["BucketSpec", "InProcessBuckets", "RateLimiter", "RedisBuckets", "Take", "Verdict"]
