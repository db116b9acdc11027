module kaas/test/conformance/gophercloud

go 1.25.0

require github.com/gophercloud/gophercloud/v2 v2.12.0
