package main

import (
	"context"
	"fmt"
	"net/url"
	"slices"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/snapshots"
	"github.com/gophercloud/gophercloud/v2/openstack/blockstorage/v3/volumes"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// csiCluster is the metadata key Cinder CSI marks a cluster's volumes and snapshots with.
const csiCluster = "cinder.csi.openstack.org/cluster"

// makeVolume creates a 1 GiB volume with metadata, deleted by u (waiting until it is gone), and
// waits until it is available.
func makeVolume(ctx context.Context, block *gophercloud.ServiceClient, u *undo, name string, metadata map[string]string) (string, error) {
	made, err := volumes.Create(ctx, block, volumes.CreateOpts{Size: 1, Name: name, Metadata: metadata}, nil).Extract()
	if err != nil {
		return "", fmt.Errorf("volume create: %w", err)
	}
	u.add(func(ctx context.Context) error { return deleteVolume(ctx, block, made.ID) })
	return made.ID, waitVolume(ctx, block, made.ID)
}

// waitVolume waits until the volume is available.
func waitVolume(ctx context.Context, block *gophercloud.ServiceClient, id string) error {
	return waitStatus(ctx, "volume "+id, "available", func(ctx context.Context) (string, error) {
		got, err := volumes.Get(ctx, block, id).Extract()
		return statusOf(got, err, func(v *volumes.Volume) string { return v.Status })
	}, "error", "error_extending")
}

// deleteVolume deletes the volume and waits until its get answers 404.
func deleteVolume(ctx context.Context, block *gophercloud.ServiceClient, id string) error {
	if err := volumes.Delete(ctx, block, id, nil).ExtractErr(); err != nil {
		return err
	}
	return waitGone(ctx, "volume "+id, func(ctx context.Context) error { return volumes.Get(ctx, block, id).Err })
}

// listVolumes is the ids of every volume the list with opts returns, following its pages, and how
// many pages it took.
func listVolumes(ctx context.Context, block *gophercloud.ServiceClient, opts volumes.ListOpts) ([]string, int, error) {
	var ids []string
	pages := 0
	err := volumes.List(block, opts).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
		pages++
		vs, err := volumes.ExtractVolumes(page)
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		return true, err
	})
	slices.Sort(ids)
	return ids, pages, err
}

// cinderVolumes: Cinder CSI's volume calls: create with metadata, wait available, get, list by name,
// by metadata and page by page (limit and the marker of the next link, as CSI's ListVolumes pages),
// extend (os-extend), delete until 404; a size of 0 and a shrinking extend are 400.
func cinderVolumes(ctx context.Context, e *env, c *services, u *undo) error {
	block := c.block
	metadata := map[string]string{csiCluster: e.run}
	a, err := makeVolume(ctx, block, u, e.run+"-vol-a", metadata)
	if err != nil {
		return err
	}
	b, err := makeVolume(ctx, block, u, e.run+"-vol-b", metadata)
	if err != nil {
		return err
	}
	both := []string{a, b}
	slices.Sort(both)

	got, err := volumes.Get(ctx, block, a).Extract()
	if err != nil || got.Name != e.run+"-vol-a" || got.Size != 1 || got.Metadata[csiCluster] != e.run || got.CreatedAt.IsZero() {
		return fmt.Errorf("volume get: %+v (%v)", got, err)
	}
	byName, _, err := listVolumes(ctx, block, volumes.ListOpts{Name: e.run + "-vol-a"})
	if err != nil || !slices.Equal(byName, []string{a}) {
		return fmt.Errorf("volume list name=%s-vol-a: %v (%v), want [%s]", e.run, byName, err, a)
	}
	byMetadata, _, err := listVolumes(ctx, block, volumes.ListOpts{Metadata: metadata})
	if err != nil || !slices.Equal(byMetadata, both) {
		return fmt.Errorf("volume list by metadata: %v (%v), want %v", byMetadata, err, both)
	}
	paged, pages, err := listVolumes(ctx, block, volumes.ListOpts{Metadata: metadata, Limit: 1})
	if err != nil || !slices.Equal(paged, both) || pages < 2 {
		return fmt.Errorf("volume list by metadata, limit 1: %v in %d pages (%v), want %v in 2 or more", paged, pages, err, both)
	}
	if err := markerPage(ctx, block, metadata, both); err != nil {
		return err
	}
	if err := extendVolume(ctx, block, a); err != nil {
		return err
	}
	zero := volumes.Create(ctx, block, volumes.CreateOpts{Size: 0, Name: e.run + "-vol-bad"}, nil)
	if leaked, err := zero.Extract(); err == nil {
		u.add(func(ctx context.Context) error { return deleteVolume(ctx, block, leaked.ID) })
	}
	if err := wantCode(zero.Err, 400, "volume create of size 0"); err != nil {
		return err
	}
	for _, id := range both {
		if err := deleteVolume(ctx, block, id); err != nil {
			return err
		}
	}
	return want404(volumes.Get(ctx, block, a).Err, "get of the deleted volume")
}

// extendVolume grows the 1 GiB volume to 2 GiB through os-extend, as CSI's ControllerExpandVolume
// does, and waits until it is available at its new size; shrinking it back is 400.
func extendVolume(ctx context.Context, block *gophercloud.ServiceClient, id string) error {
	if err := volumes.ExtendSize(ctx, block, id, volumes.ExtendSizeOpts{NewSize: 2}).ExtractErr(); err != nil {
		return fmt.Errorf("volume extend: %w", err)
	}
	if err := waitVolume(ctx, block, id); err != nil {
		return err
	}
	if got, err := volumes.Get(ctx, block, id).Extract(); err != nil || got.Size != 2 {
		return fmt.Errorf("volume after extending to 2 GiB: %+v (%v)", got, err)
	}
	shrink := volumes.ExtendSizeOpts{NewSize: 1}
	return wantCode(volumes.ExtendSize(ctx, block, id, shrink).Err, 400, "extending a 2 GiB volume to 1 GiB")
}

// markerPage reads the first page of one volume, takes the marker from its next link and asks for
// the page after it, as Cinder CSI's ListVolumes hands a marker to the CO and back.
func markerPage(ctx context.Context, block *gophercloud.ServiceClient, metadata map[string]string, both []string) error {
	var ids []string
	marker := ""
	err := volumes.List(block, volumes.ListOpts{Metadata: metadata, Limit: 1}).EachPage(ctx, func(_ context.Context, page pagination.Page) (bool, error) {
		vs, err := volumes.ExtractVolumes(page)
		if err != nil {
			return false, err
		}
		for _, v := range vs {
			ids = append(ids, v.ID)
		}
		next, err := page.NextPageURL()
		if err != nil || next == "" {
			return false, fmt.Errorf("first page of limit 1 has no next link (%v)", err)
		}
		parsed, err := url.Parse(next)
		if err != nil {
			return false, err
		}
		marker = parsed.Query().Get("marker")
		return false, nil
	})
	if err != nil {
		return err
	}
	if len(ids) != 1 || marker != ids[0] {
		return fmt.Errorf("first page of limit 1: %v, next link's marker %q, want the page's one volume", ids, marker)
	}
	second, _, err := listVolumes(ctx, block, volumes.ListOpts{Metadata: metadata, Limit: 1, Marker: marker})
	if err != nil {
		return err
	}
	rest := slices.DeleteFunc(slices.Clone(both), func(id string) bool { return id == marker })
	if !slices.Equal(second, rest) {
		return fmt.Errorf("volumes after marker %s: %v, want %v", marker, second, rest)
	}
	return nil
}

// cinderSnapshots: CSI's snapshot calls: create, wait available, list by volume (the summary list,
// whose entries CSI reads size, status, volume and creation time from) and by name and status,
// delete until 404.
func cinderSnapshots(ctx context.Context, e *env, c *services, u *undo) error {
	block := c.block
	volume, err := makeVolume(ctx, block, u, e.run+"-snap-vol", nil)
	if err != nil {
		return err
	}
	name := e.run + "-snap"
	made, err := snapshots.Create(ctx, block, snapshots.CreateOpts{VolumeID: volume, Name: name, Metadata: map[string]string{csiCluster: e.run}}).Extract()
	if err != nil {
		return fmt.Errorf("snapshot create: %w", err)
	}
	gone := func(ctx context.Context) error {
		return waitGone(ctx, "snapshot "+made.ID, func(ctx context.Context) error { return snapshots.Get(ctx, block, made.ID).Err })
	}
	remove := func(ctx context.Context) error {
		if err := snapshots.Delete(ctx, block, made.ID).ExtractErr(); err != nil {
			return err
		}
		return gone(ctx)
	}
	u.add(remove)
	err = waitStatus(ctx, "snapshot "+made.ID, "available", func(ctx context.Context) (string, error) {
		got, err := snapshots.Get(ctx, block, made.ID).Extract()
		return statusOf(got, err, func(s *snapshots.Snapshot) string { return s.Status })
	}, "error")
	if err != nil {
		return err
	}
	listed, err := list(ctx, snapshots.List(block, snapshots.ListOpts{VolumeID: volume}), snapshots.ExtractSnapshots)
	if err != nil || len(listed) != 1 {
		return fmt.Errorf("snapshot list volume_id=%s: %+v (%v), want one", volume, listed, err)
	}
	s := listed[0]
	if s.ID != made.ID || s.Name != name || s.VolumeID != volume || s.Size != 1 || s.Status != "available" ||
		s.CreatedAt.IsZero() || s.Metadata[csiCluster] != e.run {
		return fmt.Errorf("snapshot list entry %+v", s)
	}
	byName, err := list(ctx, snapshots.List(block, snapshots.ListOpts{Name: name, Status: "available"}), snapshots.ExtractSnapshots)
	if err != nil || len(byName) != 1 || byName[0].ID != made.ID {
		return fmt.Errorf("snapshot list name=%s status=available: %+v (%v)", name, byName, err)
	}
	if err := remove(ctx); err != nil {
		return err
	}
	return deleteVolume(ctx, block, volume)
}
