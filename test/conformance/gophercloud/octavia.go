package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
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
		if err != nil {
			return "", err
		}
		return got.ProvisioningStatus, nil
	}, "ERROR")
}

// octaviaLoadBalancer: OCCM's Service type=LoadBalancer lifecycle: load balancer, listener, pool,
// members set in one batch update (then shrunk by another, as when a node leaves), health monitor,
// lookups by get and list filters, a bad port is 400, then a cascade delete until 404.
func octaviaLoadBalancer(ctx context.Context, e *env, u *undo) error {
	lb, err := openstack.NewLoadBalancerV2(e.provider, e.eo)
	if err != nil {
		return err
	}
	_, subnetID, err := makeNetwork(ctx, e, u, e.run+"-lb", "10.213.0.0/24")
	if err != nil {
		return err
	}
	name := e.run + "-lb"
	made, err := loadbalancers.Create(ctx, lb, loadbalancers.CreateOpts{
		Name:        name,
		Description: "Kubernetes external service default/web",
		VipSubnetID: subnetID,
		Tags:        []string{e.run},
	}).Extract()
	if err != nil {
		return fmt.Errorf("load balancer create: %w", err)
	}
	cascade := func(ctx context.Context) error {
		if err := loadbalancers.Delete(ctx, lb, made.ID, loadbalancers.DeleteOpts{Cascade: true}).ExtractErr(); err != nil {
			return err
		}
		return waitGone(ctx, "load balancer "+made.ID, func(ctx context.Context) error {
			return loadbalancers.Get(ctx, lb, made.ID).Err
		})
	}
	u.add(cascade)
	if err := waitLBActive(ctx, lb, made.ID); err != nil {
		return err
	}

	listener, err := listeners.Create(ctx, lb, listeners.CreateOpts{
		Name:           e.run + "-listener",
		Protocol:       listeners.ProtocolTCP,
		ProtocolPort:   80,
		LoadbalancerID: made.ID,
	}).Extract()
	if err != nil {
		return fmt.Errorf("listener create: %w", err)
	}
	if err := waitLBActive(ctx, lb, made.ID); err != nil {
		return err
	}
	pool, err := pools.Create(ctx, lb, pools.CreateOpts{
		Name:       e.run + "-pool",
		Protocol:   pools.ProtocolTCP,
		LBMethod:   pools.LBMethodRoundRobin,
		ListenerID: listener.ID,
	}).Extract()
	if err != nil {
		return fmt.Errorf("pool create: %w", err)
	}
	if err := waitLBActive(ctx, lb, made.ID); err != nil {
		return err
	}
	if err := batchMembers(ctx, lb, made.ID, pool.ID, subnetID, "10.213.0.11", "10.213.0.12"); err != nil {
		return err
	}
	if err := batchMembers(ctx, lb, made.ID, pool.ID, subnetID, "10.213.0.12"); err != nil {
		return err
	}
	monitor, err := monitors.Create(ctx, lb, monitors.CreateOpts{
		Name:       e.run + "-monitor",
		PoolID:     pool.ID,
		Type:       monitors.TypeTCP,
		Delay:      5,
		Timeout:    3,
		MaxRetries: 3,
	}).Extract()
	if err != nil {
		return fmt.Errorf("health monitor create: %w", err)
	}
	if err := waitLBActive(ctx, lb, made.ID); err != nil {
		return err
	}

	if err := lbLookups(ctx, lb, made.ID, listener.ID, pool.ID, monitor.ID, name, subnetID); err != nil {
		return err
	}
	badPort := listeners.CreateOpts{Protocol: listeners.ProtocolTCP, ProtocolPort: 70000, LoadbalancerID: made.ID}
	if err := wantCode(listeners.Create(ctx, lb, badPort).Err, 400, "listener on port 70000"); err != nil {
		return err
	}
	if err := cascade(ctx); err != nil {
		return err
	}
	return want404(listeners.Get(ctx, lb, listener.ID).Err, "get of a listener of the deleted load balancer")
}

// batchMembers sets the pool's members to addresses in one PUT, as OCCM does for a Service's nodes,
// and checks the pool then lists exactly those.
func batchMembers(ctx context.Context, lb *gophercloud.ServiceClient, lbID, poolID, subnetID string, addresses ...string) error {
	var opts []pools.BatchUpdateMemberOpts
	for _, address := range addresses {
		name := "node-" + address
		opts = append(opts, pools.BatchUpdateMemberOpts{
			Address:      address,
			ProtocolPort: 30080,
			Name:         &name,
			SubnetID:     &subnetID,
		})
	}
	if err := pools.BatchUpdateMembers(ctx, lb, poolID, opts).ExtractErr(); err != nil {
		return fmt.Errorf("members batch update: %w", err)
	}
	if err := waitLBActive(ctx, lb, lbID); err != nil {
		return err
	}
	pages, err := pools.ListMembers(lb, poolID, pools.ListMembersOpts{}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("member list: %w", err)
	}
	members, err := pools.ExtractMembers(pages)
	if err != nil {
		return err
	}
	var got []string
	for _, m := range members {
		if m.ProtocolPort != 30080 || m.SubnetID != subnetID || m.CreatedAt.IsZero() {
			return fmt.Errorf("member %+v: want port 30080, subnet %s and a creation time", m, subnetID)
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
func lbLookups(ctx context.Context, lb *gophercloud.ServiceClient, lbID, listenerID, poolID, monitorID, name, subnetID string) error {
	got, err := loadbalancers.Get(ctx, lb, lbID).Extract()
	if err != nil {
		return err
	}
	if got.Name != name || got.VipSubnetID != subnetID || got.VipAddress == "" || got.CreatedAt.IsZero() ||
		len(got.Listeners) != 1 || len(got.Pools) != 1 {
		return fmt.Errorf("load balancer get: %+v", *got)
	}
	pages, err := loadbalancers.List(lb, loadbalancers.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		return err
	}
	listed, err := loadbalancers.ExtractLoadBalancers(pages)
	if err != nil {
		return err
	}
	if len(listed) != 1 || listed[0].ID != lbID {
		return fmt.Errorf("load balancer list name=%s: %d, want exactly %s", name, len(listed), lbID)
	}
	pages, err = listeners.List(lb, listeners.ListOpts{LoadbalancerID: lbID}).AllPages(ctx)
	if err != nil {
		return err
	}
	ls, err := listeners.ExtractListeners(pages)
	if err != nil {
		return err
	}
	if len(ls) != 1 || ls[0].ID != listenerID || ls[0].DefaultPoolID != poolID {
		return fmt.Errorf("listener list loadbalancer_id=%s: %+v", lbID, ls)
	}
	pages, err = pools.List(lb, pools.ListOpts{LoadbalancerID: lbID}).AllPages(ctx)
	if err != nil {
		return err
	}
	ps, err := pools.ExtractPools(pages)
	if err != nil {
		return err
	}
	if len(ps) != 1 || ps[0].ID != poolID || ps[0].MonitorID != monitorID {
		return fmt.Errorf("pool list loadbalancer_id=%s: %+v", lbID, ps)
	}
	monitor, err := monitors.Get(ctx, lb, monitorID).Extract()
	if err != nil {
		return err
	}
	if monitor.Type != monitors.TypeTCP || monitor.Delay != 5 || len(monitor.Pools) != 1 || monitor.Pools[0].ID != poolID {
		return fmt.Errorf("health monitor get: %+v", *monitor)
	}
	return nil
}
