package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// absent is a well-formed id that names nothing.
const absent = "0badc0de-0000-4000-8000-000000000000"

// errorsMissing: a get of a missing resource of each kind the clients use fails with gophercloud's
// ErrUnexpectedResponseCode 404, which is how OCCM and CSI tell "gone" from "broken".
func errorsMissing(ctx context.Context, e *env, c *services, _ *undo) error {
	compute, network, image, lb, block := c.compute, c.network, c.image, c.lb, c.block
	gets := []struct {
		kind string
		err  error
	}{
		{"server", servers.Get(ctx, compute, absent).Err},
		{"server metadata", servers.Metadata(ctx, compute, absent).Err},
		{"server ips", pageErr(servers.ListAddresses(compute, absent).AllPages(ctx))},
		{"flavor", flavors.Get(ctx, compute, absent).Err},
		{"image", images.Get(ctx, image, absent).Err},
		{"network", networks.Get(ctx, network, absent).Err},
		{"subnet", subnets.Get(ctx, network, absent).Err},
		{"port", ports.Get(ctx, network, absent).Err},
		{"security group", groups.Get(ctx, network, absent).Err},
		{"floating IP", floatingips.Get(ctx, network, absent).Err},
		{"load balancer", loadbalancers.Get(ctx, lb, absent).Err},
		{"listener", listeners.Get(ctx, lb, absent).Err},
		{"pool", pools.Get(ctx, lb, absent).Err},
		{"pool members", pageErr(pools.ListMembers(lb, absent, nil).AllPages(ctx))},
		{"health monitor", monitors.Get(ctx, lb, absent).Err},
		{"volume", volumes.Get(ctx, block, absent).Err},
		{"snapshot", snapshots.Get(ctx, block, absent).Err},
	}
	var errs []error
	for _, g := range gets {
		errs = append(errs, want404(g.err, fmt.Sprintf("get of a missing %s", g.kind)))
	}
	return errors.Join(errs...)
}

// pageErr is the error of a list call.
func pageErr(_ pagination.Page, err error) error { return err }
