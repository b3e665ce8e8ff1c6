//! BVH import (in progress)
