package main

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// makeNetwork creates a network named name with one IPv4 subnet of cidr, deleted by u.
func makeNetwork(ctx context.Context, e *env, u *undo, name, cidr string) (networkID, subnetID string, err error) {
	network, err := openstack.NewNetworkV2(e.provider, e.eo)
	if err != nil {
		return "", "", err
	}
	made, err := networks.Create(ctx, network, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		return "", "", fmt.Errorf("network create: %w", err)
	}
	u.add(func(ctx context.Context) error { return networks.Delete(ctx, network, made.ID).ExtractErr() })
	subnet, err := subnets.Create(ctx, network, subnets.CreateOpts{
		NetworkID: made.ID,
		CIDR:      cidr,
		IPVersion: gophercloud.IPv4,
		Name:      name,
	}).Extract()
	if err != nil {
		return "", "", fmt.Errorf("subnet create: %w", err)
	}
	u.add(func(ctx context.Context) error { return subnets.Delete(ctx, network, subnet.ID).ExtractErr() })
	return made.ID, subnet.ID, nil
}

// neutronNetworks: networks, subnets and ports found by list filters (name, network_id), a port's
// floating IPs by port_id, a port deleted until 404; a subnet with a /33 CIDR is 400, also on a
// network that does not exist (Neutron validates the body first).
func neutronNetworks(ctx context.Context, e *env, u *undo) error {
	network, err := openstack.NewNetworkV2(e.provider, e.eo)
	if err != nil {
		return err
	}
	name := e.run + "-net"
	netID, subnetID, err := makeNetwork(ctx, e, u, name, "10.212.0.0/24")
	if err != nil {
		return err
	}
	netPages, err := networks.List(network, networks.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		return err
	}
	nets, err := networks.ExtractNetworks(netPages)
	if err != nil {
		return err
	}
	if len(nets) != 1 || nets[0].ID != netID || len(nets[0].Subnets) != 1 || nets[0].Subnets[0] != subnetID {
		return fmt.Errorf("network list name=%s: %+v, want %s with subnet %s", name, nets, netID, subnetID)
	}
	subnetPages, err := subnets.List(network, subnets.ListOpts{NetworkID: netID}).AllPages(ctx)
	if err != nil {
		return err
	}
	subs, err := subnets.ExtractSubnets(subnetPages)
	if err != nil {
		return err
	}
	if len(subs) != 1 || subs[0].ID != subnetID || subs[0].CIDR != "10.212.0.0/24" || subs[0].GatewayIP != "10.212.0.1" {
		return fmt.Errorf("subnet list network_id=%s: %+v", netID, subs)
	}

	port, err := ports.Create(ctx, network, ports.CreateOpts{
		Name:      e.run + "-port",
		NetworkID: netID,
		FixedIPs:  []ports.IP{{SubnetID: subnetID, IPAddress: "10.212.0.10"}},
	}).Extract()
	if err != nil {
		return fmt.Errorf("port create: %w", err)
	}
	u.add(func(ctx context.Context) error { return ports.Delete(ctx, network, port.ID).ExtractErr() })
	portPages, err := ports.List(network, ports.ListOpts{NetworkID: netID, Name: e.run + "-port"}).AllPages(ctx)
	if err != nil {
		return err
	}
	listed, err := ports.ExtractPorts(portPages)
	if err != nil {
		return err
	}
	if len(listed) != 1 || listed[0].ID != port.ID || listed[0].FixedIPs[0].IPAddress != "10.212.0.10" {
		return fmt.Errorf("port list network_id and name: %+v, want %s at 10.212.0.10", listed, port.ID)
	}
	fipPages, err := floatingips.List(network, floatingips.ListOpts{PortID: port.ID}).AllPages(ctx)
	if err != nil {
		return fmt.Errorf("floating IP list port_id=%s: %w", port.ID, err)
	}
	if fips, err := floatingips.ExtractFloatingIPs(fipPages); err != nil || len(fips) != 0 {
		return fmt.Errorf("floating IPs of a new port: %+v (%v), want none", fips, err)
	}
	if err := ports.Delete(ctx, network, port.ID).ExtractErr(); err != nil {
		return err
	}
	if err := want404(ports.Get(ctx, network, port.ID).Err, "get of the deleted port"); err != nil {
		return err
	}

	bad := subnets.CreateOpts{NetworkID: netID, CIDR: "10.212.1.0/33", IPVersion: gophercloud.IPv4}
	if err := wantCode(subnets.Create(ctx, network, bad).Err, 400, "subnet create with 10.212.1.0/33"); err != nil {
		return err
	}
	bad.NetworkID = "2d2d2d2d-0000-4000-8000-000000000000"
	return wantCode(subnets.Create(ctx, network, bad).Err, 400, "subnet create with 10.212.1.0/33 on a missing network")
}

// neutronSecurityGroups: a group and an ingress rule as OCCM makes them for a load balancer's
// members, found by list filters, then deleted until 404; a rule whose port range is reversed is 400.
func neutronSecurityGroups(ctx context.Context, e *env, u *undo) error {
	network, err := openstack.NewNetworkV2(e.provider, e.eo)
	if err != nil {
		return err
	}
	name := e.run + "-sg"
	group, err := groups.Create(ctx, network, groups.CreateOpts{Name: name, Description: "gophercloud conformance"}).Extract()
	if err != nil {
		return fmt.Errorf("security group create: %w", err)
	}
	u.add(func(ctx context.Context) error { return groups.Delete(ctx, network, group.ID).ExtractErr() })
	rule, err := rules.Create(ctx, network, rules.CreateOpts{
		Direction:      rules.DirIngress,
		EtherType:      rules.EtherType4,
		SecGroupID:     group.ID,
		Protocol:       rules.ProtocolTCP,
		PortRangeMin:   30080,
		PortRangeMax:   30080,
		RemoteIPPrefix: "10.0.0.0/8",
	}).Extract()
	if err != nil {
		return fmt.Errorf("security group rule create: %w", err)
	}
	groupPages, err := groups.List(network, groups.ListOpts{Name: name}).AllPages(ctx)
	if err != nil {
		return err
	}
	found, err := groups.ExtractGroups(groupPages)
	if err != nil {
		return err
	}
	if len(found) != 1 || found[0].ID != group.ID {
		return fmt.Errorf("security group list name=%s: %+v", name, found)
	}
	rulePages, err := rules.List(network, rules.ListOpts{SecGroupID: group.ID, Direction: "ingress", Protocol: "tcp"}).AllPages(ctx)
	if err != nil {
		return err
	}
	listed, err := rules.ExtractRules(rulePages)
	if err != nil {
		return err
	}
	if len(listed) != 1 || listed[0].ID != rule.ID || listed[0].PortRangeMin != 30080 || listed[0].RemoteIPPrefix != "10.0.0.0/8" {
		return fmt.Errorf("rule list security_group_id direction=ingress protocol=tcp: %+v, want %s", listed, rule.ID)
	}
	reversed := rules.CreateOpts{
		Direction:    rules.DirIngress,
		EtherType:    rules.EtherType4,
		SecGroupID:   group.ID,
		Protocol:     rules.ProtocolTCP,
		PortRangeMin: 30090,
		PortRangeMax: 30080,
	}
	if err := wantCode(rules.Create(ctx, network, reversed).Err, 400, "rule with port_range_min > port_range_max"); err != nil {
		return err
	}
	if err := rules.Delete(ctx, network, rule.ID).ExtractErr(); err != nil {
		return err
	}
	if err := want404(rules.Get(ctx, network, rule.ID).Err, "get of the deleted rule"); err != nil {
		return err
	}
	if err := groups.Delete(ctx, network, group.ID).ExtractErr(); err != nil {
		return err
	}
	return want404(groups.Get(ctx, network, group.ID).Err, "get of the deleted security group")
}
