package main

import (
	"context"
	"fmt"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/layer3/floatingips"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// makeNetwork creates a network named name with one IPv4 subnet of cidr, deleted by u.
func makeNetwork(ctx context.Context, c *services, u *undo, name, cidr string) (networkID, subnetID string, err error) {
	made, err := networks.Create(ctx, c.network, networks.CreateOpts{Name: name}).Extract()
	if err != nil {
		return "", "", fmt.Errorf("network create: %w", err)
	}
	u.add(func(ctx context.Context) error { return networks.Delete(ctx, c.network, made.ID).ExtractErr() })
	subnet, err := subnets.Create(ctx, c.network, subnets.CreateOpts{
		NetworkID: made.ID,
		CIDR:      cidr,
		IPVersion: gophercloud.IPv4,
		Name:      name,
	}).Extract()
	if err != nil {
		return "", "", fmt.Errorf("subnet create: %w", err)
	}
	u.add(func(ctx context.Context) error { return subnets.Delete(ctx, c.network, subnet.ID).ExtractErr() })
	return made.ID, subnet.ID, nil
}

// neutronNetworks: networks, subnets and ports found by list filters (name, network_id), a port's
// floating IPs by port_id, a port deleted until 404; a subnet with a /33 CIDR is 400, also on a
// network that does not exist (Neutron validates the body first).
func neutronNetworks(ctx context.Context, e *env, c *services, u *undo) error {
	name := e.run + "-net"
	netID, subnetID, err := makeNetwork(ctx, c, u, name, "10.212.0.0/24")
	if err != nil {
		return err
	}
	nets, err := list(ctx, networks.List(c.network, networks.ListOpts{Name: name}), networks.ExtractNetworks)
	if err != nil || len(nets) != 1 || nets[0].ID != netID || len(nets[0].Subnets) != 1 || nets[0].Subnets[0] != subnetID {
		return fmt.Errorf("network list name=%s: %+v (%v), want %s with subnet %s", name, nets, err, netID, subnetID)
	}
	subs, err := list(ctx, subnets.List(c.network, subnets.ListOpts{NetworkID: netID}), subnets.ExtractSubnets)
	if err != nil || len(subs) != 1 || subs[0].ID != subnetID || subs[0].CIDR != "10.212.0.0/24" || subs[0].GatewayIP != "10.212.0.1" {
		return fmt.Errorf("subnet list network_id=%s: %+v (%v)", netID, subs, err)
	}
	if err := portLookups(ctx, c, u, netID, subnetID, e.run+"-port"); err != nil {
		return err
	}
	bad := subnets.CreateOpts{NetworkID: netID, CIDR: "10.212.1.0/33", IPVersion: gophercloud.IPv4}
	if err := wantCode(subnets.Create(ctx, c.network, bad).Err, 400, "subnet create with 10.212.1.0/33"); err != nil {
		return err
	}
	bad.NetworkID = absent
	return wantCode(subnets.Create(ctx, c.network, bad).Err, 400, "subnet create with 10.212.1.0/33 on a missing network")
}

// portLookups: a port with a fixed IP found by network_id and name, with no floating IP by port_id,
// then deleted until 404.
func portLookups(ctx context.Context, c *services, u *undo, netID, subnetID, name string) error {
	port, err := ports.Create(ctx, c.network, ports.CreateOpts{
		Name:      name,
		NetworkID: netID,
		FixedIPs:  []ports.IP{{SubnetID: subnetID, IPAddress: "10.212.0.10"}},
	}).Extract()
	if err != nil {
		return fmt.Errorf("port create: %w", err)
	}
	u.add(func(ctx context.Context) error { return ports.Delete(ctx, c.network, port.ID).ExtractErr() })
	listed, err := list(ctx, ports.List(c.network, ports.ListOpts{NetworkID: netID, Name: name}), ports.ExtractPorts)
	if err != nil || len(listed) != 1 || listed[0].ID != port.ID || listed[0].FixedIPs[0].IPAddress != "10.212.0.10" {
		return fmt.Errorf("port list network_id and name: %+v (%v), want %s at 10.212.0.10", listed, err, port.ID)
	}
	fips, err := list(ctx, floatingips.List(c.network, floatingips.ListOpts{PortID: port.ID}), floatingips.ExtractFloatingIPs)
	if err != nil || len(fips) != 0 {
		return fmt.Errorf("floating IP list port_id=%s: %+v (%v), want none", port.ID, fips, err)
	}
	if err := ports.Delete(ctx, c.network, port.ID).ExtractErr(); err != nil {
		return err
	}
	return want404(ports.Get(ctx, c.network, port.ID).Err, "get of the deleted port")
}

// neutronSecurityGroups: a group and an ingress rule as OCCM makes them for a load balancer's
// members, found by list filters, then deleted until 404; a rule whose port range is reversed is 400.
func neutronSecurityGroups(ctx context.Context, e *env, c *services, u *undo) error {
	name := e.run + "-sg"
	group, err := groups.Create(ctx, c.network, groups.CreateOpts{Name: name, Description: "gophercloud conformance"}).Extract()
	if err != nil {
		return fmt.Errorf("security group create: %w", err)
	}
	u.add(func(ctx context.Context) error { return groups.Delete(ctx, c.network, group.ID).ExtractErr() })
	ingress := func(min, max int, remote string) rules.CreateOpts {
		return rules.CreateOpts{
			Direction:      rules.DirIngress,
			EtherType:      rules.EtherType4,
			SecGroupID:     group.ID,
			Protocol:       rules.ProtocolTCP,
			PortRangeMin:   min,
			PortRangeMax:   max,
			RemoteIPPrefix: remote,
		}
	}
	rule, err := rules.Create(ctx, c.network, ingress(30080, 30080, "10.0.0.0/8")).Extract()
	if err != nil {
		return fmt.Errorf("security group rule create: %w", err)
	}
	found, err := list(ctx, groups.List(c.network, groups.ListOpts{Name: name}), groups.ExtractGroups)
	if err != nil || len(found) != 1 || found[0].ID != group.ID {
		return fmt.Errorf("security group list name=%s: %+v (%v)", name, found, err)
	}
	byGroup := rules.ListOpts{SecGroupID: group.ID, Direction: "ingress", Protocol: "tcp"}
	listed, err := list(ctx, rules.List(c.network, byGroup), rules.ExtractRules)
	if err != nil || len(listed) != 1 || listed[0].ID != rule.ID || listed[0].PortRangeMin != 30080 || listed[0].RemoteIPPrefix != "10.0.0.0/8" {
		return fmt.Errorf("rule list security_group_id direction=ingress protocol=tcp: %+v (%v), want %s", listed, err, rule.ID)
	}
	if err := wantCode(rules.Create(ctx, c.network, ingress(30090, 30080, "")).Err, 400, "rule with port_range_min > port_range_max"); err != nil {
		return err
	}
	if err := rules.Delete(ctx, c.network, rule.ID).ExtractErr(); err != nil {
		return err
	}
	if err := want404(rules.Get(ctx, c.network, rule.ID).Err, "get of the deleted rule"); err != nil {
		return err
	}
	if err := groups.Delete(ctx, c.network, group.ID).ExtractErr(); err != nil {
		return err
	}
	return want404(groups.Get(ctx, c.network, group.ID).Err, "get of the deleted security group")
}
