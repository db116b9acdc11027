package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
)

// waitLBActive waits until the load balancer is ACTIVE again after a change, as OCCM does before
// each next call (Octavia refuses changes to a load balancer that is PENDING_*).
func waitLBActive(ctx context.Context, lb *gophercloud.ServiceClient, id string) error {
	return waitStatus(ctx, "load balancer "+id, "ACTIVE", func(ctx context.Context) (string, error) {
		got, err := loadbalancers.Get(ctx, lb, id).Extract()
		return statusOf(got, err, func(l *loadbalancers.LoadBalancer) string { return l.ProvisioningStatus })
	}, "ERROR")
}

// lbObjects are what one Service type=LoadBalancer is made of in Octavia.
type lbObjects struct {
	lb, listener, pool, monitor, subnet, name string
}

// octaviaLoadBalancer: OCCM's Service type=LoadBalancer lifecycle: load balancer, listener, pool,
// members set in one batch update (then shrunk by another, as when a node leaves), health monitor,
// lookups by get and list filters, a bad port is 400, then a cascade delete until 404.
func octaviaLoadBalancer(ctx context.Context, e *env, c *services, u *undo) error {
	o := lbObjects{name: e.run + "-lb"}
	_, subnet, err := makeNetwork(ctx, c, u, o.name, "10.213.0.0/24")
	if err != nil {
		return err
	}
	o.subnet = subnet
	made, err := loadbalancers.Create(ctx, c.lb, loadbalancers.CreateOpts{
		Name:        o.name,
		Description: "Kubernetes external service default/web",
		VipSubnetID: o.subnet,
		Tags:        []string{e.run},
	}).Extract()
	if err != nil {
		return fmt.Errorf("load balancer create: %w", err)
	}
	o.lb = made.ID
	cascade := func(ctx context.Context) error {
		if err := loadbalancers.Delete(ctx, c.lb, o.lb, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
			return err
		}
		return waitGone(ctx, "load balancer "+o.lb, func(ctx context.Context) error { return loadbalancers.Get(ctx, c.lb, o.lb).Err })
	}
	u.add(cascade)
	if err := lbChildren(ctx, c.lb, &o, e.run); err != nil {
		return err
	}
	if err := lbLookups(ctx, c.lb, o); err != nil {
		return err
	}
	badPort := listeners.CreateOpts{Protocol: listeners.ProtocolTCP, ProtocolPort: 70000, LoadbalancerID: o.lb}
	if err := wantCode(listeners.Create(ctx, c.lb, badPort).Err, 400, "listener on port 70000"); err != nil {
		return err
	}
	if err := cascade(ctx); err != nil {
		return err
	}
	return want404(listeners.Get(ctx, c.lb, o.listener).Err, "get of a listener of the deleted load balancer")
}

// lbChildren makes the listener, pool, members and health monitor, each once the load balancer is
// ACTIVE again.
func lbChildren(ctx context.Context, lb *gophercloud.ServiceClient, o *lbObjects, run string) error {
	steps := []func() error{
		func() error {
			l, err := listeners.Create(ctx, lb, listeners.CreateOpts{
				Name: run + "-listener", Protocol: listeners.ProtocolTCP, ProtocolPort: 80, LoadbalancerID: o.lb,
			}).Extract()
			if err == nil {
				o.listener = l.ID
			}
			return err
		},
		func() error {
			p, err := pools.Create(ctx, lb, pools.CreateOpts{
				Name: run + "-pool", Protocol: pools.ProtocolTCP, LBMethod: pools.LBMethodRoundRobin, ListenerID: o.listener,
			}).Extract()
			if err == nil {
				o.pool = p.ID
			}
			return err
		},
		func() error { return batchMembers(ctx, lb, *o, "10.213.0.11", "10.213.0.12") },
		func() error { return batchMembers(ctx, lb, *o, "10.213.0.12") },
		func() error {
			m, err := monitors.Create(ctx, lb, monitors.CreateOpts{
				Name: run + "-monitor", PoolID: o.pool, Type: monitors.TypeTCP, Delay: 5, Timeout: 3, MaxRetries: 3,
			}).Extract()
			if err == nil {
				o.monitor = m.ID
			}
			return err
		},
	}
	for _, step := range steps {
		if err := waitLBActive(ctx, lb, o.lb); err != nil {
			return err
		}
		if err := step(); err != nil {
			return err
		}
	}
	return waitLBActive(ctx, lb, o.lb)
}

// batchMembers sets the pool's members to addresses in one PUT, as OCCM does for a Service's nodes,
// and checks the pool then lists exactly those.
func batchMembers(ctx context.Context, lb *gophercloud.ServiceClient, o lbObjects, addresses ...string) error {
	var opts []pools.BatchUpdateMemberOpts
	for _, address := range addresses {
		name := "node-" + address
		opts = append(opts, pools.BatchUpdateMemberOpts{Address: address, ProtocolPort: 30080, Name: &name, SubnetID: &o.subnet})
	}
	if err := pools.BatchUpdateMembers(ctx, lb, o.pool, opts).ExtractErr(); err != nil {
		return fmt.Errorf("members batch update: %w", err)
	}
	if err := waitLBActive(ctx, lb, o.lb); err != nil {
		return err
	}
	members, err := list(ctx, pools.ListMembers(lb, o.pool, pools.ListMembersOpts{}), pools.ExtractMembers)
	if err != nil {
		return fmt.Errorf("member list: %w", err)
	}
	var got []string
	for _, m := range members {
		if m.ProtocolPort != 30080 || m.SubnetID != o.subnet || m.CreatedAt.IsZero() {
			return fmt.Errorf("member %+v: want port 30080, subnet %s and a creation time", m, o.subnet)
		}
		got = append(got, m.Address)
	}
	slices.Sort(got)
	if !slices.Equal(got, addresses) {
		return fmt.Errorf("members after the batch update: %v, want %v", got, addresses)
	}
	return nil
}

// lbLookups: the load balancer and its children by get and by the list filters OCCM uses.
func lbLookups(ctx context.Context, lb *gophercloud.ServiceClient, o lbObjects) error {
	got, err := loadbalancers.Get(ctx, lb, o.lb).Extract()
	if err != nil {
		return err
	}
	if got.Name != o.name || got.VipSubnetID != o.subnet || got.VipAddress == "" || got.CreatedAt.IsZero() ||
		len(got.Listeners) != 1 || len(got.Pools) != 1 {
		return fmt.Errorf("load balancer get: %+v", *got)
	}
	lbs, err := list(ctx, loadbalancers.List(lb, loadbalancers.ListOpts{Name: o.name}), loadbalancers.ExtractLoadBalancers)
	if err != nil || len(lbs) != 1 || lbs[0].ID != o.lb {
		return fmt.Errorf("load balancer list name=%s: %d (%v), want exactly %s", o.name, len(lbs), err, o.lb)
	}
	ls, err := list(ctx, listeners.List(lb, listeners.ListOpts{LoadbalancerID: o.lb}), listeners.ExtractListeners)
	if err != nil || len(ls) != 1 || ls[0].ID != o.listener || ls[0].DefaultPoolID != o.pool {
		return fmt.Errorf("listener list loadbalancer_id=%s: %+v (%v)", o.lb, ls, err)
	}
	ps, err := list(ctx, pools.List(lb, pools.ListOpts{LoadbalancerID: o.lb}), pools.ExtractPools)
	if err != nil || len(ps) != 1 || ps[0].ID != o.pool || ps[0].MonitorID != o.monitor {
		return fmt.Errorf("pool list loadbalancer_id=%s: %+v (%v)", o.lb, ps, err)
	}
	monitor, err := monitors.Get(ctx, lb, o.monitor).Extract()
	if err != nil || monitor.Type != monitors.TypeTCP || monitor.Delay != 5 || len(monitor.Pools) != 1 || monitor.Pools[0].ID != o.pool {
		return fmt.Errorf("health monitor get: %+v (%v)", monitor, err)
	}
	return nil
}
