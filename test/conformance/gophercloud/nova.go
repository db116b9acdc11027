package main

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
)

// serverFlavor is the flavor a check boots with. An admin (the lab's credentials) makes its own,
// named name and deleted by u: the lab starts without flavors, and one another test made may be
// deleted under this run. Anyone else takes the smallest the project can use.
func serverFlavor(ctx context.Context, e *env, compute *gophercloud.ServiceClient, u *undo, name string) (flavors.Flavor, error) {
	roles, err := e.provider.GetAuthResult().(tokens.CreateResult).ExtractRoles()
	if err != nil {
		return flavors.Flavor{}, err
	}
	if !slices.ContainsFunc(roles, func(r tokens.Role) bool { return r.Name == "admin" }) {
		all, err := list(ctx, flavors.ListDetail(compute, nil), flavors.ExtractFlavors)
		if err != nil || len(all) == 0 {
			return flavors.Flavor{}, fmt.Errorf("no flavor is visible to the project (%v)", err)
		}
		return slices.MinFunc(all, func(a, b flavors.Flavor) int { return a.RAM - b.RAM }), nil
	}
	made, err := flavors.Create(ctx, compute, flavors.CreateOpts{Name: name, RAM: 512, VCPUs: 1, Disk: gophercloud.IntToPointer(1)}).Extract()
	if err != nil {
		return flavors.Flavor{}, fmt.Errorf("flavor create: %w", err)
	}
	u.add(func(ctx context.Context) error { return flavors.Delete(ctx, compute, made.ID).ExtractErr() })
	return *made, nil
}

// novaFlavors: flavors list (detail) and get, as OCCM's instance type lookup does.
func novaFlavors(ctx context.Context, e *env, c *services, u *undo) error {
	flavor, err := serverFlavor(ctx, e, c.compute, u, e.run+"-flavor")
	if err != nil {
		return err
	}
	// What OCCM reads of a flavor (its name, for the node's instance type) and what boots depend on.
	same := func(f flavors.Flavor) bool {
		return f.ID == flavor.ID && f.Name == flavor.Name && f.RAM == flavor.RAM && f.VCPUs == flavor.VCPUs && f.Disk == flavor.Disk
	}
	all, err := list(ctx, flavors.ListDetail(c.compute, nil), flavors.ExtractFlavors)
	if err != nil || !slices.ContainsFunc(all, same) {
		return fmt.Errorf("flavor list: %+v (%v), want it to hold %+v", all, err, flavor)
	}
	got, err := flavors.Get(ctx, c.compute, flavor.ID).Extract()
	if err != nil || !same(*got) {
		return fmt.Errorf("flavor get %+v (%v) differs from %+v", got, err, flavor)
	}
	return nil
}

// novaServers: a server booted with metadata and tags, found as OCCM finds a node's server (list by
// exact name and status, get, its addresses through /ips and its port by device_id), one metadata key
// read and updated, then deleted until its get answers 404.
func novaServers(ctx context.Context, e *env, c *services, u *undo) error {
	netID, _, err := makeNetwork(ctx, c, u, e.run+"-server", "10.211.0.0/24")
	if err != nil {
		return err
	}
	imageID, err := makeImage(ctx, c, e.run, u, e.run+"-server-image")
	if err != nil {
		return err
	}
	flavor, err := serverFlavor(ctx, e, c.compute, u, e.run+"-server-flavor")
	if err != nil {
		return err
	}
	name := e.run + "-server"
	server, err := servers.Create(ctx, c.compute, servers.CreateOpts{
		Name:      name,
		ImageRef:  imageID,
		FlavorRef: flavor.ID,
		Networks:  []servers.Network{{UUID: netID}},
		Metadata:  map[string]string{"kaas-role": "master", "kaas-cluster": e.run},
		Tags:      []string{e.run},
	}, nil).Extract()
	if err != nil {
		return fmt.Errorf("server create: %w", err)
	}
	deleteServer := func(ctx context.Context) error {
		if err := servers.Delete(ctx, c.compute, server.ID).ExtractErr(); err != nil {
			return err
		}
		return waitGone(ctx, "server "+server.ID, func(ctx context.Context) error {
			return servers.Get(ctx, c.compute, server.ID).Err
		})
	}
	u.add(deleteServer)
	if err := servers.WaitForStatus(ctx, c.compute, server.ID, "ACTIVE"); err != nil {
		return fmt.Errorf("waiting for the server to be ACTIVE: %w", err)
	}
	if err := findServer(ctx, c, server.ID, name, e.run); err != nil {
		return err
	}
	if err := serverMetadata(ctx, c.compute, server.ID, e.run); err != nil {
		return err
	}
	if err := deleteServer(ctx); err != nil {
		return err
	}
	return want404(servers.Get(ctx, c.compute, server.ID).Err, "get of the deleted server")
}

// findServer: the server by list with an exact-name regex and a status, by get (metadata, tags), its
// address through /ips, and its port by device_id holding that address.
func findServer(ctx context.Context, c *services, id, name, run string) error {
	listed, err := list(ctx, servers.List(c.compute, servers.ListOpts{
		Name:   "^" + regexp.QuoteMeta(name) + "$",
		Status: "ACTIVE",
	}), servers.ExtractServers)
	if err != nil || len(listed) != 1 || listed[0].ID != id {
		return fmt.Errorf("server list name=^%s$ status=ACTIVE: %d servers (%v), want exactly %s", name, len(listed), err, id)
	}
	got, err := servers.Get(ctx, c.compute, id).Extract()
	if err != nil {
		return err
	}
	if got.Name != name || got.Metadata["kaas-role"] != "master" || got.Tags == nil || !slices.Contains(*got.Tags, run) {
		return fmt.Errorf("server get: name %q, metadata %v, tags %v", got.Name, got.Metadata, got.Tags)
	}
	addresses, err := list(ctx, servers.ListAddresses(c.compute, id), servers.ExtractAddresses)
	if err != nil {
		return fmt.Errorf("server ips: %w", err)
	}
	i := slices.IndexFunc(addresses[name], func(a servers.Address) bool {
		return a.Version == 4 && strings.HasPrefix(a.Address, "10.211.0.")
	})
	if i < 0 {
		return fmt.Errorf("server ips: %v has no 10.211.0.x address on network %s", addresses, name)
	}
	attached, err := list(ctx, ports.List(c.network, ports.ListOpts{DeviceID: id}), ports.ExtractPorts)
	if err != nil || len(attached) != 1 || len(attached[0].FixedIPs) == 0 || attached[0].FixedIPs[0].IPAddress != addresses[name][i].Address {
		return fmt.Errorf("ports of device %s: %+v (%v), want one with %s", id, attached, err, addresses[name][i].Address)
	}
	return nil
}

// serverMetadata: one key read, updated and read again, the whole set read; a missing key is 404
// and a key longer than 255 characters is 400.
func serverMetadata(ctx context.Context, compute *gophercloud.ServiceClient, id, run string) error {
	one, err := servers.Metadatum(ctx, compute, id, "kaas-role").Extract()
	if err != nil || one["kaas-role"] != "master" {
		return fmt.Errorf("metadata key get: %v (%v), want kaas-role master", one, err)
	}
	set, err := servers.CreateMetadatum(ctx, compute, id, servers.MetadatumOpts{"kaas-role": "worker"}).Extract()
	if err != nil || set["kaas-role"] != "worker" {
		return fmt.Errorf("metadata key update: %v (%v), want kaas-role worker", set, err)
	}
	all, err := servers.Metadata(ctx, compute, id).Extract()
	if err != nil || all["kaas-role"] != "worker" || all["kaas-cluster"] != run {
		return fmt.Errorf("metadata after the update: %v (%v)", all, err)
	}
	if err := want404(servers.Metadatum(ctx, compute, id, "no-such-key").Err, "get of a missing metadata key"); err != nil {
		return err
	}
	long := servers.MetadatumOpts{strings.Repeat("k", 256): "v"}
	return wantCode(servers.CreateMetadatum(ctx, compute, id, long).Err, 400, "a 256-character metadata key")
}
